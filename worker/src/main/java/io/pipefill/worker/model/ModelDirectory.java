package io.pipefill.worker.model;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelConfigException;
import io.pipefill.model.ModelConfigJson;
import java.nio.file.Files;
import java.nio.file.Path;

/** A Hugging Face model directory: config.json, safetensors weights and (optionally) tokenizer.json. */
public record ModelDirectory(Path path, ModelConfig config) {

    public static ModelDirectory open(Path path) {
        if (!Files.isDirectory(path)) {
            throw new ModelConfigException(path + ": not a directory (expected a Hugging Face model directory)");
        }
        return new ModelDirectory(path, ModelConfigJson.read(path.resolve("config.json")));
    }

    public Path tokenizerJson() {
        return path.resolve("tokenizer.json");
    }

    public boolean hasTokenizer() {
        return Files.isRegularFile(tokenizerJson());
    }

    public Checkpoint openCheckpoint() {
        return Checkpoint.open(path);
    }
}
