package io.pipefill.controlplane.catalog;

import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.springframework.stereotype.Service;

/**
 * Registers a model directory under the {@link ModelsRoot}: parses its config.json with the engine's own reader (so
 * a model that registers is one the workers can load), sums the size of its weight files and records a summary.
 */
@Service
public class ModelRegistrar {
    private final ModelRepository models;
    private final ModelsRoot root;

    public ModelRegistrar(ModelRepository models, ModelsRoot root) {
        this.models = models;
        this.root = root;
    }

    /** Blocking. Throws IllegalArgumentException (400) for a bad directory, ConflictException for a taken name. */
    public RegisteredModel register(String name, String location) {
        ModelDirectory md;
        boolean hasTokenizer;
        try {
            md = root.open(location);
            hasTokenizer = root.tokenizerJson(md).isPresent();
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("location: " + e.getMessage(), e);
        }
        if (models.byName(name).isPresent()) {
            throw new ConflictException("a model named '" + name + "' is already registered");
        }
        ModelConfig c = md.config();
        Path dir = md.path(); // ModelsRoot.open resolved it under the root
        long size = root.weightBytes(dir);
        if (size == 0) {
            throw new IllegalArgumentException("location: " + dir + " holds no *.safetensors files");
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("architecture", c.architecture().name());
        summary.put("intermediateSize", c.intermediateSize());
        summary.put("headDim", c.headDim());
        summary.put("ropeTheta", c.ropeTheta());
        summary.put("tieWordEmbeddings", c.tieWordEmbeddings());
        summary.put("torchDtype", c.torchDtype());
        summary.put("hasTokenizer", hasTokenizer);
        RegisteredModel m = new RegisteredModel(UUID.randomUUID(), name, dir.toString(), c.architecture().name(),
                c.numLayers(), c.hiddenSize(), c.numHeads(), c.numKvHeads(), c.vocabSize(), c.maxPositionEmbeddings(),
                c.parameterCount(), size, hasTokenizer, null);
        return models.insert(m, summary);
    }
}
