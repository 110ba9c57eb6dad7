package io.pipefill.cli;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Turns {@code --model} into a model directory: an existing directory as given, or the name of a generator
 * preset ({@code tiny}, {@code small}), whose llama model is generated once into the model cache
 * ({@code $PIPEFILL_MODELS}, default ~/.cache/pipefill/models) and reused after.
 */
final class ModelResolver {
    private ModelResolver() {
    }

    static Path resolve(String model, PrintStream log) throws IOException {
        Path dir = Path.of(model);
        if (Files.isDirectory(dir)) {
            return dir;
        }
        ModelPreset preset = Arrays.stream(ModelPreset.values())
                .filter(p -> p.cliName().equalsIgnoreCase(model) && p != ModelPreset.EIGHT_B_SHAPE)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("--model " + model + ": not a directory, nor a preset to "
                        + "generate (" + Arrays.stream(ModelPreset.values()).filter(p -> p != ModelPreset.EIGHT_B_SHAPE)
                        .map(ModelPreset::cliName).collect(Collectors.joining(", ")) + ")"));
        Path cached = cacheRoot().resolve(preset.cliName() + "-llama-seed0");
        if (Files.isRegularFile(cached.resolve("config.json")) && Files.isRegularFile(cached.resolve("model.safetensors"))) {
            return cached;
        }
        // generate next to the final place, then move: an interrupted run never leaves a half-written model
        Path tmp = cached.resolveSibling(cached.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        log.printf("generating the %s preset model into %s (once)%n", preset.cliName(), cached);
        new ModelGenerator(preset.config(Architecture.LLAMA), 0).write(tmp);
        try {
            Files.move(tmp, cached);
        } catch (IOException e) {
            if (!Files.isDirectory(cached)) {
                throw e;
            }
            // another process won the race; use its copy
        }
        return cached;
    }

    static Path cacheRoot() {
        String env = System.getenv("PIPEFILL_MODELS");
        return env != null && !env.isBlank() ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache", "pipefill", "models");
    }
}
