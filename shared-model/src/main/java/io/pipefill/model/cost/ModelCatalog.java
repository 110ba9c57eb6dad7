package io.pipefill.model.cost;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Models by preset name (their public Hugging Face config.json, embedded as resources under
 * {@code io/pipefill/model/presets/}) or by path (a model directory with config.json, or the file itself).
 */
public final class ModelCatalog {
    public static final List<String> PRESETS = List.of("deepseek-v3.1", "qwen3-235b-a22b", "qwen3-235b-a22b-fp8",
            "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "qwen3-32b");

    private ModelCatalog() {
    }

    public static ModelSpec preset(String name) {
        String key = name.trim().toLowerCase(Locale.ROOT);
        if (!PRESETS.contains(key)) {
            throw new IllegalArgumentException("unknown model preset '" + name + "'; presets: " + String.join(", ", PRESETS)
                    + " (or a directory holding a config.json)");
        }
        String resource = "/io/pipefill/model/presets/" + key + ".json";
        try (InputStream in = ModelCatalog.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("preset resource " + resource + " is missing from the build");
            }
            return ModelSpecJson.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), key, "preset " + key);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read preset resource " + resource, e);
        }
    }

    /** A preset name, a model directory or a config.json path. */
    public static ModelSpec resolve(String nameOrPath) {
        if (nameOrPath == null || nameOrPath.isBlank()) {
            throw new IllegalArgumentException("--model is required: a preset (" + String.join(", ", PRESETS)
                    + ") or a directory holding a config.json");
        }
        if (PRESETS.contains(nameOrPath.trim().toLowerCase(Locale.ROOT))) {
            return preset(nameOrPath);
        }
        Path p = Path.of(nameOrPath);
        Path file = Files.isDirectory(p) ? p.resolve("config.json") : p;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("unknown model '" + nameOrPath + "': not a preset (" + String.join(", ", PRESETS)
                    + ") and " + file + " does not exist");
        }
        try {
            String name = Files.isDirectory(p) ? p.getFileName().toString() : file.getFileName().toString();
            return ModelSpecJson.parse(Files.readString(file), name, file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
