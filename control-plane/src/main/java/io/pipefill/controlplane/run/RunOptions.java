package io.pipefill.controlplane.run;

import io.pipefill.model.pipeline.SamplingSettings;
import java.util.List;

/**
 * What a run takes beyond {@link SubmitRunRequest}, set by the OpenAI-compatible routes: how its generated tokens are
 * picked, and whether a text prompt gets the tokenizer's special tokens (false for a chat template's rendering,
 * which writes them itself). {@code calibrationChunks}: set only for a planned deployment's calibration run, the
 * mixed chunk sizes it runs; its timeline is fitted into the deployment's chunk costs.
 */
public record RunOptions(SamplingSettings sampling, boolean addSpecialTokens, List<Integer> calibrationChunks) {
    /** The run API's runs: greedy, the text tokenized as {@code pipefill prefill} does. */
    public static final RunOptions DEFAULT = new RunOptions(SamplingSettings.GREEDY, true);

    public RunOptions {
        if (sampling == null) {
            throw new IllegalArgumentException("sampling settings are required (SamplingSettings.GREEDY for greedy)");
        }
        calibrationChunks = calibrationChunks == null ? null : List.copyOf(calibrationChunks);
    }

    public RunOptions(SamplingSettings sampling, boolean addSpecialTokens) {
        this(sampling, addSpecialTokens, null);
    }

    /** A calibration run: greedy, one token, these chunks. */
    static RunOptions calibration(List<Integer> chunks) {
        return new RunOptions(SamplingSettings.GREEDY, true, chunks);
    }

    boolean calibrates() {
        return calibrationChunks != null;
    }
}
