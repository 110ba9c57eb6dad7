package io.pipefill.worker.engine;

import io.pipefill.worker.model.TensorParallel;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.model.Checkpoint;

/**
 * The compute seam: the engine (and later the pipeline's stage loop) drives a {@link Stage} and never knows
 * whether it runs on CPU or GPU.
 */
public interface Backend extends AutoCloseable {
    String name();

    /**
     * Loads one stage's shard of the weights (its layers, and its tensor-parallel slice of each) and allocates its KV cache for {@code kvCapacity} positions.
     * Fails with a clear error (naming the tensor) when the checkpoint does not match the config.
     */
    Stage loadStage(ModelConfig config, StageShard shard, TensorParallel tp, Checkpoint checkpoint, int kvCapacity);

    /** What every backend checks before it reads a weight: the shard fits the model, TP divides it, a KV capacity. */
    static void checkLoadable(ModelConfig config, StageShard shard, TensorParallel tp, int kvCapacity) {
        shard.checkFits(config);
        tp.checkDivides(config);
        if (kvCapacity < 1) {
            throw new IllegalArgumentException("KV cache capacity must be at least 1 position, got " + kvCapacity);
        }
    }

    /** A stage without tensor parallelism. */
    default Stage loadStage(ModelConfig config, StageShard shard, Checkpoint checkpoint, int kvCapacity) {
        return loadStage(config, shard, TensorParallel.NONE, checkpoint, kvCapacity);
    }

    @Override
    void close();
}
