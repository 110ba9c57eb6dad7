package io.pipefill.cli;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;

/**
 * {@code --model} under {@code --random-weights}: a preset's llama shape, with no directory. 8b-shape is allowed
 * here (and only here): its weights are computed, never generated into 16 GB of files.
 */
final class RandomModel {
    private RandomModel() {
    }

    static ModelConfig config(String model) {
        try {
            return ModelPreset.fromCliName(model).config(Architecture.LLAMA);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--random-weights needs a preset as --model, not '" + model + "': "
                    + e.getMessage(), e);
        }
    }

    static String describe(String model, long weightSeed) {
        return "random-weights:" + ModelPreset.fromCliName(model).cliName() + ":seed" + weightSeed;
    }
}
