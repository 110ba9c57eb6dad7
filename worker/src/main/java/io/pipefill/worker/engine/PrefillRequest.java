package io.pipefill.worker.engine;

import io.pipefill.model.pipeline.ChunkingPolicy;

/**
 * What to prefill: the prompt's token ids, the chunk size, and how many tokens to generate greedily after it.
 */
public record PrefillRequest(int[] promptTokens, int chunkSize, int maxNewTokens) {
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
        promptTokens = promptTokens.clone();
    }

    /** Positions the KV cache must hold: the prompt plus every generated token but the last. */
    public int kvPositions() {
        return ChunkingPolicy.kvPositions(promptTokens.length, maxNewTokens);
    }
}
