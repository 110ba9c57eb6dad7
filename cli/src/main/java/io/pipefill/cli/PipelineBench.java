package io.pipefill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.worker.backends.Backends;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.ModelDirectory;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.launch.ProcessPipeline;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "At PP2 the best dynamic chunking against the best fixed chunk size, then PP2 against PP1 "
                + "throughput with the better of the two (one thread per rank, worker processes); every pair "
                + "measured in the same run.")
final class PipelineBench implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "small", description = "Model directory or preset (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--lengths", split = ",", defaultValue = "16384,32768", description = "Prompt lengths for PP2 vs PP1 (default: ${DEFAULT-VALUE}).")
    int[] lengths;

    @Option(names = "--sweep-length", defaultValue = "16384", description = "Prompt length of the chunking sweep (default: ${DEFAULT-VALUE}).")
    int sweepLength;

    @Option(names = "--chunks", split = ",", defaultValue = "1024,2048,4096", description = "Fixed chunk sizes swept at PP2 (default: ${DEFAULT-VALUE}).")
    int[] chunks;

    @Option(names = "--dynamic-multiples", split = ",", defaultValue = "2,3", description = "Dynamic bases as multiples of the best fixed chunk (default: ${DEFAULT-VALUE}).")
    int[] multiples;

    @Option(names = "--sigma", defaultValue = "0.75", description = "Smoothing of the dynamic runs (default: ${DEFAULT-VALUE}).")
    double sigma;

    @Option(names = "--out", defaultValue = "bench-results/pipeline-cpu.json", description = "JSON report (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--repeat", defaultValue = "1", description = "Runs of each PP1/PP2 pair, interleaved; the best of each counts (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--skip-sweep", description = "Only PP2 vs PP1 with --chunks' first size (fixed chunks).")
    boolean skipSweep;

    private ModelConfig config;
    private double lastBubble;
    private Path dir;

    @Override
    public Integer call() throws Exception {
        dir = ModelResolver.resolve(model, System.err).toAbsolutePath();
        config = ModelDirectory.open(dir).config();
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode report = mapper.createObjectNode();
        report.put("benchmark", "pipeline-cpu");
        report.put("date", Instant.now().toString());
        report.put("model", dir.toString());
        report.put("cores", Runtime.getRuntime().availableProcessors());
        report.put("java", System.getProperty("java.version"));

        double machine = HardwareScaling.twoCoreScaling();
        System.out.printf("machine: two single-threaded sgemm streams at once = %.3f × one (the ceiling for PP2/PP1 here)%n",
                machine);
        report.put("hardware_two_stream_scaling", machine);
        ArrayNode sweep = report.putArray("pp2_chunk_sweep");
        double bestFixed = Double.MAX_VALUE;
        int bestChunk = chunks[0];
        for (int chunk : skipSweep ? new int[0] : chunks) {
            double ttft = ttft(2, sweepLength, chunk, false);
            System.out.printf("PP2 %6d tokens fixed chunk %5d: TTFT %8.2f s%n", sweepLength, chunk, ttft / 1000);
            sweep.addObject().put("chunk", chunk).put("dynamic", false).put("ttft_ms", ttft);
            if (ttft < bestFixed) {
                bestFixed = ttft;
                bestChunk = chunk;
            }
        }
        double bestDynamic = Double.MAX_VALUE;
        int bestBase = 0;
        for (int m : skipSweep ? new int[0] : multiples) {
            int base = bestChunk * m;
            double ttft = ttft(2, sweepLength, base, true);
            System.out.printf("PP2 %6d tokens dynamic base %5d σ %.2f: TTFT %8.2f s%n", sweepLength, base, sigma, ttft / 1000);
            sweep.addObject().put("chunk", base).put("dynamic", true).put("sigma", sigma).put("ttft_ms", ttft);
            if (ttft < bestDynamic) {
                bestDynamic = ttft;
                bestBase = base;
            }
        }
        if (!skipSweep) {
            System.out.printf("best fixed %d: %.2f s, best dynamic base %d: %.2f s, TTFT ratio fixed/dynamic %.3f%n",
                    bestChunk, bestFixed / 1000, bestBase, bestDynamic / 1000, bestFixed / bestDynamic);
            report.put("best_fixed_chunk", bestChunk).put("best_fixed_ttft_ms", bestFixed)
                    .put("best_dynamic_base", bestBase).put("best_dynamic_ttft_ms", bestDynamic)
                    .put("ttft_ratio_fixed_over_dynamic", bestFixed / bestDynamic);
        }

        ArrayNode scaling = report.putArray("pp2_vs_pp1");
        boolean dynamicWins = bestDynamic < bestFixed;
        int scalingChunk = dynamicWins ? bestBase : bestChunk;
        for (int len : lengths) {
            double pp1 = Double.MAX_VALUE;
            double pp2 = Double.MAX_VALUE;
            for (int rep = 0; rep < repeat; rep++) {
                pp1 = Math.min(pp1, ttft(1, len, scalingChunk, dynamicWins));
                pp2 = Math.min(pp2, ttft(2, len, scalingChunk, dynamicWins));
            }
            System.out.printf("%6d tokens, %s chunks base %d: PP1 %.2f s, PP2 %.2f s, speed-up %.3f%n", len,
                    dynamicWins ? "dynamic" : "fixed", scalingChunk, pp1 / 1000, pp2 / 1000, pp1 / pp2);
            scaling.addObject().put("prompt_tokens", len).put("chunk", scalingChunk).put("dynamic", dynamicWins)
                    .put("pp1_ttft_ms", pp1).put("pp2_ttft_ms", pp2).put("speedup", pp1 / pp2)
                    .put("speedup_over_machine_scaling", pp1 / pp2 / machine).put("pp2_bubble_ratio", lastBubble);
        }
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        Files.writeString(out, mapper.writeValueAsString(report) + "\n");
        System.out.println("wrote " + out);
        return 0;
    }

    private double ttft(int pp, int length, int chunk, boolean dynamic) throws Exception {
        int[] tokens = new SplittableRandom(0).ints(length, 0, config.vocabSize()).toArray();
        PipelineSpec spec = new PipelineSpec(dir.toString(), Topology.of(config, pp, 1, null), chunk, dynamic, sigma,
                null, 1, Duration.ofSeconds(600), List.of(new PipelineSpec.Request(tokens, 1)));
        PipelineResult r = new ProcessPipeline(Backends.Kind.cpu, new PrintStream(OutputStream.nullOutputStream()),
                Duration.ofSeconds(120)).run(spec);
        lastBubble = r.timeline().bubbleRatio(0);
        if (dynamic && !r.chunking().dynamicUsed()) {
            System.out.println("  (dynamic chunking fell back: " + r.chunking().fallbackReason() + ")");
        }
        return r.result(0).ttftMs();
    }
}
