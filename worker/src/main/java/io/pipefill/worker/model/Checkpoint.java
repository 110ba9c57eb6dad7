package io.pipefill.worker.model;

import io.pipefill.model.ModelDirectory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.SafetensorsFile;
import io.pipefill.model.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's weights: one model.safetensors, or shards listed by model.safetensors.index.json. Files are
 * opened (and their headers validated) lazily, so a stage that needs two shards never touches the others.
 * Or, for throughput runs, {@link #random computed weights} of a shape with no file at all: backends read
 * them like stored ones, and the CUDA backend fills them on the device instead ({@link #randomWeights}).
 */
public final class Checkpoint implements AutoCloseable {

    private final Path directory;
    /** tensor name to the file that holds it */
    private final Map<String, String> weightMap;
    private final Map<String, SafetensorsFile> open = new LinkedHashMap<>();
    /** Non-null for computed weights; then weightMap is empty and no file is opened. */
    private final RandomWeights random;

    private Checkpoint(Path directory, Map<String, String> weightMap) {
        this.directory = directory;
        this.weightMap = weightMap;
        this.random = null;
    }

    private Checkpoint(RandomWeights random) {
        this.directory = Path.of("random-weights-seed" + random.seed());
        this.weightMap = Map.of();
        this.random = random;
    }

    /** Computed weights of {@code config}'s shape (see {@link RandomWeights}); no file is read. */
    public static Checkpoint random(ModelConfig config, long seed) {
        return new Checkpoint(new RandomWeights(config, seed));
    }

    /** The computed weights, or null when the weights come from files. */
    public RandomWeights randomWeights() {
        return random;
    }

    public static Checkpoint open(Path directory) {
        Path index = directory.resolve(ModelDirectory.INDEX_FILE);
        Path single = directory.resolve(ModelDirectory.SINGLE_FILE);
        if (Files.isRegularFile(index)) {
            return new Checkpoint(directory, readIndex(index));
        }
        if (Files.isRegularFile(single)) {
            Checkpoint c = new Checkpoint(directory, new LinkedHashMap<>());
            SafetensorsFile file = c.file(ModelDirectory.SINGLE_FILE);
            file.tensors().keySet().forEach(name -> c.weightMap.put(name, ModelDirectory.SINGLE_FILE));
            return c;
        }
        throw new SafetensorsException(directory + ": no weights found: expected " + ModelDirectory.SINGLE_FILE + " or " + ModelDirectory.INDEX_FILE);
    }

    private static Map<String, String> readIndex(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new SafetensorsException(index + ": malformed JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new SafetensorsException(index + ": missing object 'weight_map' (tensor name -> shard file)");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String file = e.getValue().asText();
            if (!e.getValue().isTextual() || file.contains("/") || file.contains("\\") || file.isEmpty()) {
                throw new SafetensorsException(index + ": weight_map entry '" + e.getKey()
                        + "' must name a shard file in the model directory, got " + e.getValue());
            }
            result.put(e.getKey(), file);
        }
        return result;
    }

    public Path directory() {
        return directory;
    }

    public boolean contains(String tensor) {
        if (random != null) {
            return random.contains(tensor);
        }
        return weightMap.containsKey(tensor);
    }

    /** The tensor's header entry, after checking that it exists and has the shape the config implies. */
    public TensorInfo require(String tensor, long... expectedShape) {
        if (random != null) {
            return random.require(tensor, expectedShape);
        }
        String fileName = weightMap.get(tensor);
        if (fileName == null) {
            throw new SafetensorsException(directory + ": missing tensor '" + tensor + "' (expected shape "
                    + Arrays.toString(expectedShape) + ")");
        }
        SafetensorsFile file = file(fileName);
        TensorInfo info = file.tensors().get(tensor);
        if (info == null) {
            throw new SafetensorsException(file.path() + ": missing tensor '" + tensor + "' that " + ModelDirectory.INDEX_FILE + " places there");
        }
        if (!Arrays.equals(info.shape(), expectedShape)) {
            throw new SafetensorsException(file.path() + ": tensor '" + tensor + "' has shape " + info.shapeString()
                    + " but config.json implies " + Arrays.toString(expectedShape));
        }
        return info;
    }

    /** Reads elements of a tensor found with {@link #require}, converted to float32. */
    void readFloats(TensorInfo tensor, long first, float[] dst, int dstOffset, int count) {
        if (random != null) {
            random.readFloats(tensor, first, dst, dstOffset, count);
            return;
        }
        file(weightMap.get(tensor.name())).readFloats(tensor, first, dst, dstOffset, count);
    }

    /** Reads a whole (small) tensor as float32. */
    public float[] readAll(TensorInfo tensor) {
        long n = tensor.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(tensor + " is too large for one array");
        }
        float[] out = new float[(int) n];
        readFloats(tensor, 0, out, 0, (int) n);
        return out;
    }

    private SafetensorsFile file(String name) {
        return open.computeIfAbsent(name, n -> SafetensorsFile.open(directory.resolve(n)));
    }

    @Override
    public void close() {
        open.values().forEach(SafetensorsFile::close);
        open.clear();
    }
}
