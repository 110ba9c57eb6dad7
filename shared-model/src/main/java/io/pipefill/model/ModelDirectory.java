package io.pipefill.model;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Hugging Face model directory: config.json, safetensors weights (one {@value #SINGLE_FILE}, or shards
 * listed in {@value #INDEX_FILE}) and, optionally, tokenizer.json. Opening it reads the config; the weights
 * are the worker's to read.
 */
public record ModelDirectory(Path path, ModelConfig config) {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

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
}
