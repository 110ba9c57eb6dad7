package io.pipefill.worker.model;

/**
 * A stage's place in its tensor-parallel group: q/k/v/gate/up are split by output features and o/down by
 * input features, so each rank holds 1/size of a layer and the partial outputs are summed by
 * {@link AllReduce} after o_proj and after down_proj.
 */
public record TensorParallel(int rank, int size, AllReduce allReduce) {
    public static final TensorParallel NONE = new TensorParallel(0, 1, (data, length) -> { });

    /** Sums a buffer across the group in place; every rank must end with identical values. */
    @FunctionalInterface
    public interface AllReduce {
        void sum(float[] data, int length);
    }

    public TensorParallel {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("tensor-parallel rank " + rank + " of " + size + " is not valid");
        }
    }

    /** Refuses a split that would cut a head or leave ranks unequal shares of the MLP. */
    public void checkDivides(io.pipefill.model.ModelConfig config) {
        if (config.numHeads() % size != 0 || config.numKvHeads() % size != 0 || config.intermediateSize() % size != 0) {
            throw new IllegalArgumentException("tensor parallelism " + size + " must divide the heads ("
                    + config.numHeads() + "), key/value heads (" + config.numKvHeads() + ") and intermediate_size ("
                    + config.intermediateSize() + ")");
        }
        if (config.moe() != null && config.moe().expertIntermediateSize() % size != 0) {
            throw new IllegalArgumentException("tensor parallelism " + size + " must divide moe_intermediate_size ("
                    + config.moe().expertIntermediateSize() + ")");
        }
    }

    /** This rank's [start, start + count) of {@code total} items split evenly. */
    public int start(int total) {
        return total / size * rank;
    }

    public int count(int total) {
        return total / size;
    }
}
