package io.pipefill.worker.pipeline;

import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.model.Topology;
import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.backends.Placement;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import io.pipefill.worker.comm.Groups;
import io.pipefill.worker.comm.TensorParallelGroup;
import io.pipefill.worker.comm.Transport;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One rank's shard, loaded once and kept for many runs: its compute backend (CPU or CUDA), the open
 * checkpoint and the {@link Stage} with a KV cache of fixed capacity. Runs come and go with their own transports:
 * the stage's host tensor-parallel sums go through its {@link TensorParallelGroup}, which the run in progress
 * attaches its transport to ({@link #bind}). One run at a time uses a loaded stage.
 */
public final class LoadedStage implements AutoCloseable {
    static final int WARM_UP_TOKENS = 256;

    private final String modelDir;
    private final ModelConfig config;
    private final Topology topology;
    private final int rank;
    private final int stageIndex;
    private final TensorParallelGroup tpGroup;
    private final int kvCapacity;
    private final Backend backend;
    private final Checkpoint checkpoint;
    private final Stage stage;

    private LoadedStage(String modelDir, ModelConfig config, Topology topology, int rank, int kvCapacity,
                        Backend backend, Checkpoint checkpoint, StageShard shard) {
        this.modelDir = modelDir;
        this.config = config;
        this.topology = topology;
        this.rank = rank;
        this.stageIndex = topology.stageOf(rank);
        this.tpGroup = new TensorParallelGroup(Groups.of(topology, rank));
        this.kvCapacity = kvCapacity;
        this.backend = backend;
        this.checkpoint = checkpoint;
        TensorParallel tp = new TensorParallel(topology.tpRankOf(rank), topology.tp(), tpGroup);
        this.stage = backend.loadStage(config, shard, tp, checkpoint, kvCapacity);
    }

    /**
     * The KV capacity a long-lived stage loads with when runs may hold up to {@code maxTokens} positions:
     * stage 0 also runs the dynamic-chunking profile, up to 1.25 × the base chunk, and a base chunk may be as
     * long as {@code maxTokens} (the chunk size is only known per run), so stage 0 holds that much more.
     */
    public static int kvCapacityFor(int stage, int maxTokens) {
        return ChunkingPolicy.kvCapacity(stage, maxTokens, true, maxTokens);
    }

    /**
     * Reads this rank's shard of the model into the backend {@code placement} names (on a shared GPU its pool takes
     * its share; a rank joined to peers runs its TP all-reduces on the device) with a KV cache for
     * {@code kvCapacity} positions.
     */
    public static LoadedStage load(Path modelDir, Topology topology, int rank, Placement placement, int threads,
                                   int kvCapacity) {
        if (rank < 0 || rank >= topology.worldSize()) {
            throw new IllegalArgumentException("rank " + rank + " is outside the world of " + topology.worldSize()
                    + " ranks (pp " + topology.pp() + " × tp " + topology.tp() + ")");
        }
        ModelDirectory md = ModelDirectory.open(modelDir);
        ModelConfig c = md.config();
        int stageIndex = topology.stageOf(rank);
        int tpRank = topology.tpRankOf(rank);
        StageShard full = topology.partition().shard(stageIndex);
        // logits are needed once per stage: TP rank 0 of the last stage holds the final norm and lm_head
        StageShard shard = new StageShard(full.firstLayer(), full.endLayer(), full.embedding(), full.head() && tpRank == 0);
        Backend backend = Backends.create(placement, threads);
        Checkpoint ckpt = null;
        try {
            ckpt = Checkpoint.open(md.path());
            return new LoadedStage(modelDir.toString(), c, topology, rank, kvCapacity, backend, ckpt, shard);
        } catch (RuntimeException | Error e) {
            if (ckpt != null) {
                ckpt.close();
            }
            backend.close();
            throw e;
        }
    }

    /** Makes {@code t} carry this stage's tensor-parallel sums until {@link #unbind}. */
    public void bind(Transport t) {
        tpGroup.attach(t);
    }

    void unbind() {
        tpGroup.detach();
    }

    /**
     * Runs this stage on a dummy chunk so that the JIT has compiled the hot loops before the first real
     * chunk: a fresh worker JVM is otherwise several times slower on its first chunks. TP ranks of a stage
     * warm up together through the bound transport's all-reduces; the cache is cleared after.
     */
    void warmUp() {
        runWarmUp();
    }

    /**
     * The warm-up without peers: the all-reduces are skipped, so a TP rank computes on its partial sums. The
     * numbers are thrown away (the cache is cleared) and the compute loops the JIT must compile are the same,
     * so a long-lived worker can warm up while it loads, before any peer or run exists, instead of adding
     * the warm-up to its first run's time.
     */
    public void warmUpLocally() {
        tpGroup.computeAlone(this::runWarmUp);
    }

    private void runWarmUp() {
        int n = Math.min(WARM_UP_TOKENS, kvCapacity);
        int[] tokens = new SplittableRandom(1).ints(n, 0, config.vocabSize()).toArray();
        try (Activations x = stage.allocate(n)) {
            for (int round = 0; round < 2; round++) {
                stage.resetCache();
                if (stageIndex == 0) {
                    stage.embed(tokens, 0, n, x);
                } else {
                    float[] h = new float[n * config.hiddenSize()];
                    Arrays.fill(h, 0.5f);
                    x.copyFromHost(n, h);
                }
                stage.forward(x, 0, n);
            }
        }
        stage.resetCache();
    }

    public String modelDir() {
        return modelDir;
    }

    public ModelConfig config() {
        return config;
    }

    public Topology topology() {
        return topology;
    }

    public int rank() {
        return rank;
    }

    public int stageIndex() {
        return stageIndex;
    }

    public Stage stage() {
        return stage;
    }

    /** KV positions the stage holds: a run whose prompt, decode or profile needs more is refused. */
    public int kvCapacity() {
        return kvCapacity;
    }

    public long weightBytes() {
        return stage.weightBytes();
    }

    public long kvCacheBytes() {
        return stage.kvCacheBytes();
    }

    @Override
    public void close() {
        tpGroup.detach();
        try (Backend b = backend; Checkpoint c = checkpoint; Stage s = stage) {
            // closed in reverse: stage, checkpoint, backend
        }
    }
}
