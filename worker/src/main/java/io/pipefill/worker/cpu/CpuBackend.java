package io.pipefill.worker.cpu;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import java.util.concurrent.ForkJoinPool;

/** Float32 compute on the CPU with OpenBLAS; {@code threads} sets both BLAS threads and attention workers. */
public final class CpuBackend implements Backend {
    private final int threads;
    private final ForkJoinPool pool;

    public CpuBackend(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads > 1 ? new ForkJoinPool(threads) : null;
        Blas.setThreads(threads);
    }

    public int threads() {
        return threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Stage loadStage(ModelConfig config, StageShard shard, TensorParallel tp, Checkpoint checkpoint, int kvCapacity) {
        Backend.checkLoadable(config, shard, tp, kvCapacity);
        CpuWeights weights = CpuWeights.load(config, shard, tp, checkpoint);
        try {
            return new CpuStage(config, shard, tp, weights, kvCapacity, pool, threads);
        } catch (RuntimeException | OutOfMemoryError e) {
            weights.close();
            throw e;
        }
    }

    /** Bytes of float32 weights a stage would hold, for checking memory before loading. */
    public static long weightBytes(ModelConfig c, StageShard shard) {
        long h = c.hiddenSize();
        long embed = (long) c.vocabSize() * h;
        long bytes = 0;
        for (int l = shard.firstLayer(); l < shard.endLayer(); l++) {
            bytes += c.layerParameters(l);
        }
        if (shard.embedding()) {
            bytes += embed;
        }
        if (shard.head()) {
            bytes += h + ((c.tieWordEmbeddings() && shard.embedding()) ? 0 : embed);
        }
        return bytes * Float.BYTES;
    }

    public static long kvCacheBytes(ModelConfig c, StageShard shard, int capacity) {
        return KvCache.bytesFor(shard.layerCount(), c.kvFloatsPerPosition(1), capacity);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }
}
