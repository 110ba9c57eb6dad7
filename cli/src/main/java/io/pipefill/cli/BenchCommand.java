package io.pipefill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.cli.local.ControlPlaneBench;
import io.pipefill.model.CheckpointTensors;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.WeightNames;
import io.pipefill.model.StageShard;
import io.pipefill.worker.cpu.Blas;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.cpu.NativeFloats;
import io.pipefill.worker.launch.SingleProcessPrefill;
import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (not tests).",
        subcommands = {BenchCommand.Prefill.class, PipelineBench.class, PlannedBench.class, ControlPlaneBench.class})
final class BenchCommand {

    @Command(name = "prefill", mixinStandardHelpOptions = true,
            description = "CPU prefill throughput and GFLOP/s per prompt length and thread count, beside a plain "
                    + "OpenBLAS sgemm of the model's projection shapes measured in the same run.")
    static final class Prefill implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "small", description = "Model directory or preset (default: ${DEFAULT-VALUE}).")
        String model;

        @Option(names = "--lengths", split = ",", defaultValue = "4096,16384,32768", description = "Prompt lengths (default: ${DEFAULT-VALUE}).")
        int[] lengths;

        @Option(names = "--threads", split = ",", description = "Thread counts (default: 1 and all cores).")
        int[] threads;

        @Option(names = "--chunk", defaultValue = "2048", description = "Chunk size (default: ${DEFAULT-VALUE}).")
        int chunk;

        @Option(names = "--out", defaultValue = "bench-results/prefill-cpu.json", description = "JSON report (default: ${DEFAULT-VALUE}).")
        Path out;

        @Override
        public Integer call() throws Exception {
            int cores = Runtime.getRuntime().availableProcessors();
            int[] threadCounts = threads != null ? threads : (cores > 1 ? new int[] {1, cores} : new int[] {1});
            Path dir = ModelResolver.resolve(model, System.err);
            ModelDirectory md = ModelDirectory.open(dir);
            ModelConfig c = md.config();
            int maxLen = Arrays.stream(lengths).max().orElseThrow();
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode report = mapper.createObjectNode();
            report.put("benchmark", "prefill-cpu");
            report.put("date", Instant.now().toString());
            report.put("model", dir.toString());
            report.put("parameters", c.parameterCount());
            report.put("chunk", chunk);
            report.put("cpu", cpuName());
            report.put("cores", cores);
            report.put("java", System.getProperty("java.version"));
            ArrayNode rows = report.putArray("results");
            System.out.printf("%-8s %-8s %10s %12s %12s %12s %8s%n", "threads", "tokens", "ttft_s", "tokens/s",
                    "GFLOP/s", "sgemm", "ratio");
            for (int t : threadCounts) {
                try (CpuBackend backend = new CpuBackend(t); Checkpoint ckpt = Checkpoint.open(md.path());
                     Stage stage = backend.loadStage(c, StageShard.whole(c), ckpt, maxLen)) {
                    double sgemmAfter = sgemmGflops(c, chunk);
                    for (int len : lengths) {
                        int[] tokens = new SplittableRandom(0).ints(len, 0, c.vocabSize()).toArray();
                        // the baseline is measured on both sides of each prefill and averaged: on a shared machine
                        // the load can change over a run of minutes, and one early sgemm would then skew every ratio
                        double sgemmBefore = sgemmAfter;
                        PrefillResult r = new SingleProcessPrefill(c, stage).run(new PrefillRequest(tokens, chunk, 1),
                                ProgressListener.NONE);
                        sgemmAfter = sgemmGflops(c, chunk);
                        double sgemm = (sgemmBefore + sgemmAfter) / 2;
                        double ratio = r.prefillGflops() / sgemm;
                        System.out.printf("%-8d %-8d %10.2f %12.0f %12.1f %12.1f %8.2f%n", t, len, r.ttftMs() / 1000,
                                r.prefillTokensPerSecond(), r.prefillGflops(), sgemm, ratio);
                        rows.addObject().put("threads", t).put("prompt_tokens", len).put("ttft_ms", r.ttftMs())
                                .put("prefill_tokens_per_s", r.prefillTokensPerSecond())
                                .put("prefill_gflops", r.prefillGflops()).put("sgemm_gflops", sgemm)
                                .put("sgemm_gflops_before", sgemmBefore).put("sgemm_gflops_after", sgemmAfter)
                                .put("ratio_to_sgemm", ratio);
                    }
                }
            }
            if (out.getParent() != null) {
                Files.createDirectories(out.getParent());
            }
            Files.writeString(out, mapper.writeValueAsString(report) + "\n");
            System.out.println("wrote " + out);
            return 0;
        }

        /**
         * Plain sgemm over the last layer's projection shapes (each distinct [out × in] once) at M = chunk,
         * FLOP-weighted, best of 3. A mixture-of-experts layer's expert shapes are one expert's, still at
         * M = chunk: the ceiling its GEMMs would reach if each expert saw the whole chunk (each sees about
         * chunk · top-k / experts rows). Latent attention's shapes are its low-rank projections and kv_b.
         */
        static double sgemmGflops(ModelConfig c, int m) {
            String lastLayer = WeightNames.layer(c.numLayers() - 1, "");
            java.util.Set<java.util.List<Long>> distinct = new java.util.LinkedHashSet<>();
            for (CheckpointTensors.Tensor t : CheckpointTensors.of(c)) {
                boolean projection = t.role() == CheckpointTensors.Role.PROJECTION
                        || t.role() == CheckpointTensors.Role.RESIDUAL_PROJECTION;
                if (projection && t.name().startsWith(lastLayer)) {
                    distinct.add(java.util.List.of(t.shape()[0], t.shape()[1]));
                }
            }
            int[][] shapes = distinct.stream().map(s -> new int[] {Math.toIntExact(s.get(0)), Math.toIntExact(s.get(1))})
                    .toArray(int[][]::new);
            double flops = 0;
            double seconds = 0;
            for (int[] s : shapes) {
                int n = s[0];
                int k = s[1];
                try (NativeFloats a = new NativeFloats((long) m * k); NativeFloats b = new NativeFloats((long) n * k);
                     NativeFloats y = new NativeFloats((long) m * n)) {
                    Blas.linear(m, k, n, a.at(0), b.at(0), 0f, y.at(0));
                    double best = Double.MAX_VALUE;
                    for (int rep = 0; rep < 3; rep++) {
                        long t0 = System.nanoTime();
                        Blas.linear(m, k, n, a.at(0), b.at(0), 0f, y.at(0));
                        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                    }
                    flops += 2.0 * m * n * k;
                    seconds += best;
                }
            }
            return flops / seconds / 1e9;
        }

        private static String cpuName() {
            try {
                return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                        .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
            } catch (Exception e) {
                return "unknown";
            }
        }
    }
}
