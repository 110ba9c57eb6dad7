package io.pipefill.model.sim;

/**
 * How long (ms) the activations of a chunk of {@code chunkTokens} tokens take on the link from stage
 * {@code fromStage} to stage {@code fromStage + 1}: latency + bytes / bandwidth in the cost model.
 */
@FunctionalInterface
public interface LinkTime {
    LinkTime FREE = (fromStage, chunkTokens) -> 0;

    double ms(int fromStage, int chunkTokens);

    static LinkTime constant(double ms) {
        return (fromStage, chunkTokens) -> ms;
    }
}
