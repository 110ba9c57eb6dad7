package io.pipefill.worker.pipeline;

import static org.junit.jupiter.api.Assertions.fail;

import io.pipefill.model.Architecture;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LayerPartition;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.MoeConfig;
import io.pipefill.model.StageShard;
import io.pipefill.model.Topology;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.plan.PartitionSearch;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.Chunk;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.launch.InProcessPipeline;
import io.pipefill.worker.model.Checkpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planner's partition search, fed with layer costs measured on this machine, picks an
 * uneven PP2 split for a model whose layers differ (Qwen3-MoE with its first four layers dense,
 * mlp_only_layers), predicts it faster than the even split, and the engine runs that split
 * ({@code --layer-partition}) with a measured TTFT within 10 % of the simulator's prediction and below the even
 * split's. As {@link SimulatorAgreesWithEngineTest}: in process, one thread per rank, best of three runs.
 *
 * <p>Layer costs by kind, from the dense layers as one stage and the MoE layers as another computing at once, the
 * MoE stage on the dense stage's real outputs.
 * Two other ways were tried and missed the engine by 10–38 %: single-layer stages (one MoE layer's experts stay
 * warm in the cache from chunk to chunk, two do not), and a calibration from the even split's own timeline (this
 * VM's two vCPUs slow each other down: a stage computes more slowly the more of its time the other stage is
 * computing too, and the even and the searched split overlap their stages differently).
 */
class UnevenPartitionAgreesWithEngineTest {
    private static final int CHUNK = 256;
    private static final int PROMPT = 2048;

    @TempDir
    Path dir;

    @Test
    void theSearchedSplitRunsAsPredicted() throws Exception {
        // layers 0-3 dense with a narrow MLP, layers 4-5 MoE with every one of 8 wide experts per token: the even
        // split (3, 3) puts a dense layer and all the expert work on stage 1
        ModelConfig c = new ModelConfig(Architecture.QWEN3_MOE, 512, 256, 128, 6, 4, 2, 64, 8192, 1e6, null, 1e-6,
                false, false, "bfloat16", new MoeConfig(8, 8, 1024, true, 1, List.of(0, 1, 2, 3)), null);
        Path model = dir.resolve("m");
        new ModelGenerator(c, 5).write(model);
        ChunkSchedule schedule = ChunkSchedule.fixed(PROMPT, CHUNK);
        int[] tokens = new SplittableRandom(6).ints(PROMPT, 0, c.vocabSize()).toArray();
        run(model, c, "3,3", tokens); // untimed: a JVM whose JIT has compiled the hot loops

        List<String> attempts = new ArrayList<>();
        for (int attempt = 0; attempt < 3; attempt++) {
            double[][] first = profile(c, model, schedule, tokens, null);
            PartitionSearch.Result found = search(first, schedule);
            if (!found.uneven() || found.ttftMs() > 0.97 * found.evenTtftMs()) {
                attempts.add("the search kept the even split or gained under 3 %: " + found);
                continue;
            }
            String split = found.partition().toString();
            run(model, c, split, tokens); // untimed: its stages' first chunks warm up
            // this VM's speed wanders with its other load: profile and both splits are measured in turns, each
            // keeping its best of three, so that all three see the same spells
            double[][] layerMs = first;
            PipelineResult unevenRun = null;
            PipelineResult evenRun = null;
            for (int rep = 0; rep < 3; rep++) {
                if (rep > 0) {
                    layerMs = profile(c, model, schedule, tokens, layerMs);
                }
                PipelineResult e = run(model, c, found.even().toString(), tokens);
                PipelineResult u = run(model, c, split, tokens);
                evenRun = evenRun == null || e.result(0).ttftMs() < evenRun.result(0).ttftMs() ? e : evenRun;
                unevenRun = unevenRun == null || u.result(0).ttftMs() < unevenRun.result(0).ttftMs() ? u : unevenRun;
            }
            double[][] finalMs = layerMs;
            double predicted = predict(finalMs, found.partition(), schedule);
            double predictedEven = predict(finalMs, found.even(), schedule);
            double[] totals = Arrays.stream(finalMs).mapToDouble(l -> Arrays.stream(l).sum()).toArray();
            double uneven = unevenRun.result(0).ttftMs();
            double evenMs = evenRun.result(0).ttftMs();
            double error = Math.abs(predicted - uneven) / uneven;
            String line = String.format("split %s: simulated %.0f ms, engine %.0f ms (%.1f %% apart); even %s: simulated"
                            + " %.0f ms, engine %.0f ms; layer totals %s ms; stage compute totals of the split: engine %s,"
                            + " profiled %s", split, predicted, uneven, 100 * error, found.even(), predictedEven, evenMs,
                    Arrays.toString(totals), Arrays.toString(stageTotals(unevenRun, 2)),
                    Arrays.toString(calibratedTotals(totals, found.partition())));
            System.out.println("uneven partition vs engine: " + line);
            if (error <= 0.10 && uneven < evenMs && predicted < predictedEven) {
                return;
            }
            attempts.add(line);
        }
        fail("the search found no uneven split 3 % faster, or the engine did not run it within 10 % of the simulator "
                + "and faster than the even split, in any attempt: " + attempts);
    }

    /**
     * Per layer and chunk, ms, as {@link SimulatorAgreesWithEngineTest} profiles: the four dense layers (with the
     * embedding) as one stage and the two MoE layers as another, timed at once as two stages compute at once, best
     * per chunk of this and {@code before} (an earlier profile, or null); a dense layer's time is the first over 4,
     * an MoE layer's the second over 2.
     */
    private static double[][] profile(ModelConfig c, Path model, ChunkSchedule schedule, int[] tokens,
                                      double[][] before) throws Exception {
        double[] dense;
        double[] moe;
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ck0 = Checkpoint.open(model);
             Checkpoint ck1 = Checkpoint.open(model);
             Stage a = backend.loadStage(c, new StageShard(0, 4, true, false), ck0, PROMPT);
             Stage b = backend.loadStage(c, new StageShard(4, 6, false, true), ck1, PROMPT)) {
            // the MoE stage computes on what the dense stage hands it, as in the pipeline: on constant input it ran
            // 15-25 % faster than on real activations (data-dependent work, likely attention's lazy rescaling)
            float[][] handed = outputs(a, schedule, tokens);
            CompletableFuture<double[]> other = CompletableFuture.supplyAsync(() -> chunkTimes(b, schedule, null, handed));
            dense = chunkTimes(a, schedule, tokens, null);
            moe = other.get();
        }
        double[][] ms = new double[c.numLayers()][schedule.size()];
        for (int j = 0; j < schedule.size(); j++) {
            for (int l = 0; l < c.numLayers(); l++) {
                ms[l][j] = c.moe().isSparse(l) ? moe[j] / 2 : dense[j] / 4;
                if (before != null) {
                    ms[l][j] = Math.min(ms[l][j], before[l][j]);
                }
            }
        }
        return ms;
    }

    /** Stage 0's output for each chunk of the schedule (untimed). */
    private static float[][] outputs(Stage stage, ChunkSchedule schedule, int[] tokens) {
        float[][] out = new float[schedule.size()][];
        try (Activations x = stage.allocate(schedule.maxChunkSize())) {
            stage.resetCache();
            for (Chunk ch : schedule.chunks()) {
                stage.embed(tokens, ch.offset(), ch.size(), x);
                stage.forward(x, ch.offset(), ch.size());
                out[ch.index()] = new float[ch.size() * x.width()];
                x.copyToHost(ch.size(), out[ch.index()]);
            }
        }
        return out;
    }

    /** Times each chunk on one stage: embedding {@code tokens} on stage 0, else the rows {@code handed} to it. */
    private static double[] chunkTimes(Stage stage, ChunkSchedule schedule, int[] tokens, float[][] handed) {
        double[] ms = new double[schedule.size()];
        try (Activations x = stage.allocate(schedule.maxChunkSize())) {
            for (int warm = 0; warm < 2; warm++) { // as the workers do before the run clock starts
                stage.resetCache();
                load(stage, x, tokens, new Chunk(0, 0, 256), handed);
                stage.forward(x, 0, 256);
            }
            stage.resetCache();
            for (Chunk ch : schedule.chunks()) {
                long t0 = System.nanoTime();
                load(stage, x, tokens, ch, handed);
                stage.forward(x, ch.offset(), ch.size());
                ms[ch.index()] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return ms;
    }

    private static void load(Stage stage, Activations x, int[] tokens, Chunk ch, float[][] handed) {
        if (tokens != null) {
            stage.embed(tokens, ch.offset(), ch.size(), x);
        } else {
            x.copyFromHost(ch.size(), handed[ch.index()]);
        }
    }

    private static double[] stageTotals(PipelineResult r, int stages) {
        double[] t = new double[stages];
        for (StageEvent e : r.timeline().prefill(0)) {
            if (e.tpRank() == 0) {
                t[e.stage()] += e.stage() == 0 ? e.computeStartMs() + e.computeMs() - e.startMs() : e.computeMs();
            }
        }
        return t;
    }

    private static double[] calibratedTotals(double[] layerTotals, LayerPartition p) {
        double[] t = new double[p.stages()];
        for (int s = 0; s < p.stages(); s++) {
            StageShard sh = p.shard(s);
            t[s] = Arrays.stream(layerTotals, sh.firstLayer(), sh.endLayer()).sum();
        }
        return t;
    }

    private static PartitionSearch.Result search(double[][] layerMs, ChunkSchedule schedule) {
        double[] totals = Arrays.stream(layerMs).mapToDouble(l -> Arrays.stream(l).sum()).toArray();
        return PartitionSearch.search(2, totals, 0, 0, p -> predict(layerMs, p, schedule));
    }

    /** The simulated PP2 TTFT of a partition: each stage's chunk time is the sum of its layers' times. */
    private static double predict(double[][] layerMs, LayerPartition p, ChunkSchedule schedule) {
        return PipelineSimulator.engine(2, (stage, prefix, n) -> {
            StageShard sh = p.shard(stage);
            double ms = 0;
            for (int l = sh.firstLayer(); l < sh.endLayer(); l++) {
                ms += layerMs[l][(int) (prefix / CHUNK)];
            }
            return ms;
        }, (stage, n) -> 0.0, 0).ttftMs(schedule);
    }

    private PipelineResult run(Path model, ModelConfig c, String partition, int[] tokens) throws Exception {
        PipelineSpec spec = new PipelineSpec(model.toString(), Topology.of(c, 2, 1, partition), CHUNK, false, 0.75, null,
                1, Duration.ofSeconds(120), List.of(new PipelineSpec.Request(tokens, 1)));
        return new InProcessPipeline(Backends.Kind.cpu).run(spec);
    }
}
