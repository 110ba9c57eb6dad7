package io.pipefill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.Topology;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.plan.ChunkScheduleOptimizer;
import io.pipefill.model.plan.MeasuredChunkCosts;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.StageLatency;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.launch.ProcessPipeline;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineSpec;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "planned", mixinStandardHelpOptions = true,
        description = "A planned chunk schedule against fixed chunks and dynamic chunking on the CPU pipeline (worker "
                + "processes, one thread per rank): a calibration run with mixed chunk sizes is fitted per stage, the "
                + "optimiser plans the schedule on that fit, then every setting runs in rounds, interleaved, each with "
                + "the simulator's prediction of what it ran.")
final class PlannedBench implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "small", description = "Model directory or preset (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--pp", defaultValue = "2", description = "Pipeline stages (default: ${DEFAULT-VALUE}).")
    int pp;

    @Option(names = "--length", defaultValue = "32768", description = "Prompt tokens (default: ${DEFAULT-VALUE}).")
    int length;

    @Option(names = "--calibration-chunks", split = ",", defaultValue = "256,512,1024,2048",
            description = "Chunk sizes the calibration run cycles through (default: ${DEFAULT-VALUE}).")
    int[] calibrationChunks;

    @Option(names = "--fixed", split = ",", defaultValue = "512,1024", description = "Fixed chunk sizes run (default: ${DEFAULT-VALUE}).")
    int[] fixed;

    @Option(names = "--dynamic", split = ",", defaultValue = "2048", description = "Dynamic-chunking bases run (default: ${DEFAULT-VALUE}).")
    int[] dynamic;

    @Option(names = "--sigma", defaultValue = "0.75", description = "σ of the dynamic runs (default: ${DEFAULT-VALUE}).")
    double sigma;

    @Option(names = "--max-chunk", defaultValue = "2048", description = "Largest planned chunk; the calibration covers up to its largest chunk, and planned chunks are no "
                    + "shorter than its shortest (default: ${DEFAULT-VALUE}).")
    int maxChunk;

    @Option(names = "--repeat", defaultValue = "2", description = "Rounds; each runs every setting once (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--out", defaultValue = "bench-results/planned-cpu.json", description = "JSON report (default: ${DEFAULT-VALUE}).")
    Path out;

    private Path dir;
    private ModelConfig config;
    private int[] tokens;

    @Override
    public Integer call() throws Exception {
        if (pp < 2 || repeat < 1 || length < 64 || fixed.length == 0) {
            throw new IllegalArgumentException("--pp must be ≥ 2, --repeat ≥ 1, --length ≥ 64 and --fixed non-empty");
        }
        int shortest = Arrays.stream(calibrationChunks).min().orElse(64);
        if (shortest < 1 || maxChunk < Math.max(64, shortest)) { // checked before the calibration run, not after it
            throw new IllegalArgumentException("--calibration-chunks must be positive and --max-chunk at least the "
                    + "shortest of them and 64; got " + Arrays.toString(calibrationChunks) + " and " + maxChunk);
        }
        dir = ModelResolver.resolve(model, System.err).toAbsolutePath();
        config = ModelDirectory.open(dir).config();
        tokens = new SplittableRandom(0).ints(length, 0, config.vocabSize()).toArray();
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode report = mapper.createObjectNode();
        report.put("benchmark", "planned-cpu").put("date", Instant.now().toString()).put("model", dir.toString())
                .put("pp", pp).put("prompt_tokens", length).put("cores", Runtime.getRuntime().availableProcessors())
                .put("java", System.getProperty("java.version"));

        List<Integer> calSizes = new ArrayList<>();
        for (int left = length, i = 0; left > 0; i++) {
            int n = Math.min(left, calibrationChunks[i % calibrationChunks.length]);
            calSizes.add(n);
            left -= n;
        }
        PipelineResult cal = run(null, false, calSizes);
        MeasuredChunkCosts costs = MeasuredChunkCosts.fit(cal.timeline(), 0);
        System.out.printf("calibration (%d mixed chunks, TTFT %.2f s): %s%n", calSizes.size(),
                cal.result(0).ttftMs() / 1000, costs.describe());
        report.put("calibration_ttft_ms", cal.result(0).ttftMs()).put("calibration_fit", costs.describe());
        // every chunk of the calibration run (the fit leaves out the warm-up and the lm_head's), to refit or judge it later
        ArrayNode calChunks = report.putArray("calibration_chunks");
        for (StageEvent e : cal.timeline().prefill(0)) {
            if (e.tpRank() == 0) {
                calChunks.addObject().put("stage", e.stage()).put("offset", e.offset()).put("size", e.size())
                        .put("ms", MeasuredChunkCosts.ms(e));
            }
        }
        // below the calibration's shortest chunk the fitted curve is an extrapolation (a fixed term fitted slightly
        // negative prices short chunks far too cheap, and the optimiser seeks them out): there it is held at least
        // at the shortest measured chunk's cost per token; planned chunks but the last are no shorter than that chunk
        StageLatency fitted = costs.latency();
        StageLatency latency = (stage, prefix, n) -> n >= shortest ? fitted.ms(stage, prefix, n)
                : Math.max(fitted.ms(stage, prefix, n), fitted.ms(stage, prefix, shortest) * n / shortest);
        PipelineSimulator sim = PipelineSimulator.engine(pp, latency, costs.link(), 0);

        Map<String, ChunkSchedule> seeds = new LinkedHashMap<>();
        for (int f : fixed) {
            seeds.put("fixed " + f, ChunkSchedule.fixed(length, f));
        }
        for (int b : dynamic) {
            seeds.put("dynamic " + b, sigmaRule(latency, b, length));
        }
        var bounds = new ChunkScheduleOptimizer.Bounds(64, Math.max(64, shortest), maxChunk);
        ChunkScheduleOptimizer.Result plan = new ChunkScheduleOptimizer(sim).optimise(length, bounds, seeds);
        System.out.printf("planned (from %s, %d simulations): %d chunks %s; predicted %.2f s (best seed %.2f s)%n",
                plan.start(), plan.simulations(), plan.schedule().size(), plan.schedule().describeSizes(),
                plan.ttftMs() / 1000, plan.startTtftMs() / 1000);
        report.put("planned_schedule", plan.schedule().describeSizes()).put("planned_predicted_ms", plan.ttftMs())
                .put("planned_started_from", plan.start());

        List<String> names = new ArrayList<>(seeds.keySet()); // the fixed and dynamic settings, in order
        names.add("planned");
        Map<String, List<Double>> runs = new LinkedHashMap<>();
        ArrayNode rounds = report.putArray("runs");
        for (int round = 0; round < repeat; round++) {
            for (String name : names) {
                PipelineResult r;
                if (name.startsWith("fixed ")) {
                    r = run(Integer.parseInt(name.substring(6)), false, null);
                } else if (name.startsWith("dynamic ")) {
                    r = run(Integer.parseInt(name.substring(8)), true, null);
                } else {
                    r = run(null, false, plan.schedule().sizes());
                }
                List<Integer> ran = r.timeline().chunkSizes(0);
                double predicted = sim.ttftMs(ChunkSchedule.ofSizes(ran));
                double ttft = r.result(0).ttftMs();
                runs.computeIfAbsent(name, k -> new ArrayList<>()).add(ttft);
                // The busiest stage's compute: what no schedule of chunks as fast as these can finish before, so
                // TTFT above it is all a better order of the same chunks could win (the fill, drain and stalls).
                double[] busy = new double[pp];
                for (StageEvent e : r.timeline().prefill(0)) {
                    if (e.tpRank() == 0) {
                        busy[e.stage()] += MeasuredChunkCosts.ms(e);
                    }
                }
                double busiest = Arrays.stream(busy).max().orElse(0);
                System.out.printf("round %d %-14s %3d chunks  TTFT %8.2f s  predicted %8.2f s (%+.1f%%)  busiest stage "
                                + "computes %8.2f s (TTFT %.1f%% above)%n", round + 1, name, ran.size(), ttft / 1000,
                        predicted / 1000, 100 * (predicted / ttft - 1), busiest / 1000, 100 * (ttft / busiest - 1));
                ObjectNode o = rounds.addObject().put("round", round + 1).put("setting", name).put("chunks", ran.size())
                        .put("ttft_ms", ttft).put("predicted_ms", predicted);
                ArrayNode busyNode = o.putArray("stage_compute_ms");
                Arrays.stream(busy).forEach(busyNode::add);
            }
        }
        ObjectNode best = report.putObject("best_of_rounds");
        double bestOther = Double.MAX_VALUE;
        String bestOtherName = null;
        for (var e : runs.entrySet()) {
            double min = e.getValue().stream().mapToDouble(Double::doubleValue).min().orElseThrow();
            best.put(e.getKey(), min);
            if (!e.getKey().equals("planned") && min < bestOther) {
                bestOther = min;
                bestOtherName = e.getKey();
            }
        }
        double planned = best.get("planned").asDouble();
        System.out.printf("best of %d rounds: planned %.2f s vs %s %.2f s: %.1f%% lower TTFT%n", repeat, planned / 1000,
                bestOtherName, bestOther / 1000, 100 * (1 - planned / bestOther));
        report.put("planned_gain_over_best_other", 1 - planned / bestOther).put("best_other", bestOtherName);
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        Files.writeString(out, mapper.writeValueAsString(report) + "\n");
        System.out.println("wrote " + out);
        return 0;
    }

    private PipelineResult run(Integer chunk, boolean dyn, List<Integer> schedule) throws Exception {
        int base = chunk != null ? chunk : schedule.stream().mapToInt(Integer::intValue).max().orElse(64);
        PipelineSpec spec = new PipelineSpec(dir.toString(), Topology.of(config, pp, 1, null), base, dyn, sigma, null, 1,
                Duration.ofSeconds(900), List.of(new PipelineSpec.Request(tokens, 1)), schedule);
        return new ProcessPipeline(Backends.Kind.cpu, new PrintStream(OutputStream.nullOutputStream()),
                Duration.ofSeconds(120)).run(spec);
    }

    /** The σ rule on the fitted stage-0 curve, as the engine's profile would give it. */
    private ChunkSchedule sigmaRule(StageLatency l, int base, int prompt) {
        int[] lengths = ChunkingPolicy.profileLengths(base);
        double[] x = new double[lengths.length];
        double[] ms = new double[lengths.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = lengths[i];
            ms[i] = l.ms(0, 0, lengths[i]);
        }
        ChunkingDecision d = ChunkingPolicy.fromProfile(base, sigma, x, ms, 0);
        return ChunkingPolicy.schedule(d, prompt);
    }
}
