package io.pipefill.worker.launch;

import io.pipefill.model.LatencyFit;
import io.pipefill.model.pipeline.ChunkingPolicy;
import java.util.List;

/**
 * What to prefill in one process: the prompt's token ids, the chunking (fixed chunks of {@code chunkSize}, or
 * dynamic chunks from that base), and how many tokens to generate greedily after it.
 *
 * @param dynamic  dynamic chunking: profile the stage (unless {@code givenFit}) and shrink chunks as the prefix grows
 * @param sigma    smoothing of dynamic chunks toward {@code chunkSize}, in [0, 1]
 * @param givenFit a latency fit measured earlier, used instead of the profile; null to profile
 * @param chunkSchedule explicit chunk sizes summing to the prompt (a planned schedule), or null
 */
public record PrefillRequest(int[] promptTokens, int chunkSize, int maxNewTokens, boolean dynamic, double sigma,
                             LatencyFit givenFit, List<Integer> chunkSchedule) {

    /** Fixed or dynamic chunks (no explicit schedule). */
    public PrefillRequest(int[] promptTokens, int chunkSize, int maxNewTokens, boolean dynamic, double sigma,
                          LatencyFit givenFit) {
        this(promptTokens, chunkSize, maxNewTokens, dynamic, sigma, givenFit, null);
    }

    public PrefillRequest {
        if (promptTokens == null || promptTokens.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: give at least one token");
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("--chunk must be positive, got " + chunkSize);
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if (dynamic && !(sigma >= 0 && sigma <= 1)) {
            throw new IllegalArgumentException("--smooth must be in [0, 1], got " + sigma);
        }
        promptTokens = promptTokens.clone();
        if (chunkSchedule != null) {
            chunkSchedule = List.copyOf(chunkSchedule);
        }
    }

    /** Fixed chunks of {@code chunkSize}. */
    public PrefillRequest(int[] promptTokens, int chunkSize, int maxNewTokens) {
        this(promptTokens, chunkSize, maxNewTokens, false, 0, null);
    }

    /** Positions the KV cache must hold for the prompt and every generated token but the last. */
    public int kvPositions() {
        return ChunkingPolicy.kvPositions(promptTokens.length, maxNewTokens);
    }

    /** Positions the stage must be loaded with: {@link #kvPositions}, and the profile's 1.25 × base when one runs. */
    public int kvCapacity() {
        return ChunkingPolicy.kvCapacity(0, kvPositions(), dynamic && givenFit == null, chunkSize);
    }
}
