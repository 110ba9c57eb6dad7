package io.pipefill.worker.launch;

import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.worker.engine.Sampling;
import java.util.List;

/**
 * The outcome of one prefill (and its greedy decode).
 *
 * @param chunks         each chunk's size and wall time
 * @param ttftMs         prompt submission to first token: all chunks plus the lm_head of the last position
 * @param lastLogits     logits of the last prompt position
 * @param generated      greedy tokens, the first of which comes from {@code lastLogits}
 * @param decodeMs       wall time of the decode steps after the first token
 * @param prefillFlops   model FLOPs of the prefill (layers and the one lm_head row)
 * @param chunking       how the chunks were chosen (fixed, or dynamic with its profile and fit)
 */
public record PrefillResult(int promptTokens, List<ChunkTiming> chunks, double ttftMs, float[] lastLogits,
                            int[] generated, double decodeMs, double prefillFlops,
                            ChunkingDecision chunking) {

    public record ChunkTiming(int offset, int size, double ms) {
    }

    public double prefillTokensPerSecond() {
        return promptTokens / (ttftMs / 1000.0);
    }

    public double prefillGflops() {
        return prefillFlops / (ttftMs / 1000.0) / 1e9;
    }

    public int firstToken() {
        return generated.length == 0 ? Sampling.argmax(lastLogits) : generated[0];
    }
}
