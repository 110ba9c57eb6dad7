package io.pipefill.worker.pipeline;

import static org.junit.jupiter.api.Assertions.fail;

import io.pipefill.model.Architecture;
import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.SimulationResult;
import io.pipefill.worker.launch.InProcessPipeline;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulator, fed with a latency profile measured on this machine, predicts the engine's measured PP2
 * TTFT for the same prompt and chunks within 10 %. The profile is each stage's time for each chunk (its
 * prefix and size), measured with both stages computing at once as they do in the pipeline but with no
 * dependency between them; the simulator adds what the pipeline adds: fill, drain, waiting on receives and
 * sends overlapping compute.
 */
class SimulatorAgreesWithEngineTest {
    private static final int CHUNK = 1024;

    @TempDir
    Path dir;

    @Test
    void pp2TtftWithinTenPercent() throws Exception {
        // big enough that compute, not JIT or GC hiccups, dominates; small enough for a test (~20 s)
        ModelConfig c = new ModelConfig(Architecture.LLAMA, 1024, 512, 1536, 4, 8, 4, 64, 8192, 10000.0, null, 1e-5,
                false, false, "bfloat16");
        Path model = dir.resolve("m");
        new ModelGenerator(c, 3).write(model);
        int promptTokens = 8192;
        ChunkSchedule schedule = ChunkSchedule.fixed(promptTokens, CHUNK);
        Topology topo = Topology.of(c, 2, 1, null);
        int[] tokens = new SplittableRandom(4).ints(promptTokens, 0, c.vocabSize()).toArray();

        PipelineSpec spec = new PipelineSpec(model.toString(), topo, CHUNK, false, 0.75, null, 1, Duration.ofSeconds(60),
                List.of(new PipelineSpec.Request(tokens, 1)));
        // one untimed engine run first: both measurements below then see a JVM whose JIT has compiled the hot
        // (Vector API) loops, as a long-running worker's would have
        new InProcessPipeline(Backends.Kind.cpu).run(spec);

        // a timing comparison on a shared VM: an attempt whose engine runs all hit a slow spell (seen once in
        // CI, 13.6 % apart) is measured again, profile and engine both; a real modelling error fails every attempt
        List<String> attempts = new java.util.ArrayList<>();
        for (int attempt = 0; attempt < 3; attempt++) {
            double[][] profile = profile(c, model, topo, schedule, tokens, promptTokens);
            SimulationResult sim = PipelineSimulator.engine(2,
                    (stage, prefix, n) -> profile[stage][(int) (prefix / CHUNK)], (stage, n) -> 0.0, 0).run(schedule);
            double engine = Double.MAX_VALUE;
            for (int rep = 0; rep < 3; rep++) {
                engine = Math.min(engine, new InProcessPipeline(Backends.Kind.cpu).run(spec).result(0).ttftMs());
            }
            double error = Math.abs(sim.ttftMs() - engine) / engine;
            String line = String.format("simulated %.0f ms, engine %.0f ms (%.1f %% apart; profile %s / %s)",
                    sim.ttftMs(), engine, error * 100, Arrays.toString(profile[0]), Arrays.toString(profile[1]));
            System.out.println("simulator vs engine, PP2 TTFT: " + line);
            if (error <= 0.10) {
                return;
            }
            attempts.add(line);
        }
        fail("the simulator missed the engine's PP2 TTFT by more than 10 % in every attempt: " + attempts);
    }

    /**
     * Each stage's time for each chunk, both stages computing at once with no dependency between them. This
     * VM's speed wanders by several per cent: each chunk keeps its best of three, as the engine its best of three.
     */
    private static double[][] profile(ModelConfig c, Path model, Topology topo, ChunkSchedule schedule, int[] tokens,
                                      int promptTokens) throws Exception {
        double[][] profile = new double[2][];
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ck0 = Checkpoint.open(model); Checkpoint ck1 = Checkpoint.open(model);
             Stage s0 = backend.loadStage(c, topo.partition().shard(0), ck0, promptTokens);
             Stage s1 = backend.loadStage(c, topo.partition().shard(1), ck1, promptTokens)) {
            for (int rep = 0; rep < 3; rep++) {
                CompletableFuture<double[]> second = CompletableFuture.supplyAsync(() -> chunkTimes(s1, schedule, null, c));
                double[] first = chunkTimes(s0, schedule, tokens, c);
                profile[0] = profile[0] == null ? first : min(profile[0], first);
                profile[1] = profile[1] == null ? second.get() : min(profile[1], second.get());
            }
        }
        return profile;
    }

    /** Times each chunk of the schedule on one stage: embedding on stage 0, synthetic hidden states elsewhere. */
    private static double[] chunkTimes(Stage stage, ChunkSchedule schedule, int[] tokens, ModelConfig c) {
        int rows = schedule.maxChunkSize();
        double[] ms = new double[schedule.size()];
        float[] hidden = new float[rows * c.hiddenSize()];
        Arrays.fill(hidden, 0.25f);
        try (Activations x = stage.allocate(rows)) {
            for (int warm = 0; warm < 2; warm++) { // as the workers do before the run clock starts
                stage.resetCache();
                load(stage, x, tokens, new Chunk(0, 0, 256), hidden);
                stage.forward(x, 0, 256);
            }
            stage.resetCache();
            for (Chunk ch : schedule.chunks()) {
                long t0 = System.nanoTime();
                load(stage, x, tokens, ch, hidden);
                stage.forward(x, ch.offset(), ch.size());
                ms[ch.index()] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return ms;
    }

    private static double[] min(double[] a, double[] b) {
        double[] m = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            m[i] = Math.min(a[i], b[i]);
        }
        return m;
    }

    private static void load(Stage stage, Activations x, int[] tokens, Chunk ch, float[] hidden) {
        if (tokens != null) {
            stage.embed(tokens, ch.offset(), ch.size(), x);
        } else {
            x.copyFromHost(ch.size(), hidden);
        }
    }
}
