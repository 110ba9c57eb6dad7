package io.pipefill.controlplane.run;

import io.pipefill.model.pipeline.SamplingSettings;

/**
 * What a run takes beyond {@link SubmitRunRequest}, set by the OpenAI-compatible routes: how its generated tokens are
 * picked, and whether a text prompt gets the tokenizer's special tokens (false for a chat template's rendering,
 * which writes them itself).
 */
public record RunOptions(SamplingSettings sampling, boolean addSpecialTokens) {
    /** The run API's runs: greedy, the text tokenized as {@code pipefill prefill} does. */
    public static final RunOptions DEFAULT = new RunOptions(SamplingSettings.GREEDY, true);

    public RunOptions {
        if (sampling == null) {
            throw new IllegalArgumentException("sampling settings are required (SamplingSettings.GREEDY for greedy)");
        }
    }
}
