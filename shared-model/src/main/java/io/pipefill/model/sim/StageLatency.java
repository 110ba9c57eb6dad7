package io.pipefill.model.sim;

/** How long (ms) stage {@code stage} computes a chunk of {@code chunkTokens} tokens that follows {@code prefix} tokens. */
@FunctionalInterface
public interface StageLatency {
    double ms(int stage, long prefix, int chunkTokens);
}
