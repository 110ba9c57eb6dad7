package io.pipefill.cli;

import io.pipefill.model.cost.MemoryEstimate;
import io.pipefill.model.cost.ModelCatalog;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.GpuCatalog;
import io.pipefill.model.hw.GpuSpec;
import io.pipefill.model.plan.Calibration;
import io.pipefill.model.plan.CalibrationSample;
import io.pipefill.model.plan.Objective;
import io.pipefill.model.plan.Plan;
import io.pipefill.model.plan.PlanJson;
import io.pipefill.model.plan.PlanReport;
import io.pipefill.model.plan.PlanRequest;
import io.pipefill.model.plan.Planner;
import io.pipefill.model.plan.Rejection;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Predict or recommend a PP × TP layout and chunking for one long prompt on a GPU cluster, from "
                + "the model's config.json, the GPU's datasheet and a discrete-event simulation of the pipeline. With --pp "
                + "and --tp it predicts that layout; without them it ranks the feasible ones.")
final class PlanCommand implements Callable<Integer> {
    @Option(names = "--model", required = true,
            description = "Preset (deepseek-v3.1, qwen3-235b-a22b, qwen3-235b-a22b-fp8, llama-3.1-8b, llama-3.1-70b, "
                    + "llama-3.1-405b, qwen3-32b) or a directory holding a Hugging Face config.json.")
    String model;

    @Option(names = "--gpu", defaultValue = "h20", description = "GPU type: h20, h20-141g, h100, h200, a100, b200 (default: ${DEFAULT-VALUE}).")
    String gpu;

    @Option(names = "--nodes", defaultValue = "1", description = "Nodes (default: ${DEFAULT-VALUE}).")
    int nodes;

    @Option(names = "--gpus-per-node", defaultValue = "8", description = "GPUs per node, on NVLink (default: ${DEFAULT-VALUE}).")
    int gpusPerNode;

    @Option(names = "--nic-gbps", defaultValue = "400", description = "Inter-node NIC bandwidth per GPU in Gb/s (default: ${DEFAULT-VALUE}).")
    double nicGbps;

    @Option(names = "--nic-latency-us", defaultValue = "25", description = "Inter-node message latency in µs (default: ${DEFAULT-VALUE}).")
    double nicLatencyUs;

    @Option(names = "--prompt-tokens", required = true, description = "Prompt length in tokens.")
    int promptTokens;

    @Option(names = "--pp", description = "Pipeline stages (with --tp: predict this layout).")
    Integer pp;

    @Option(names = "--tp", description = "Tensor-parallel ranks per stage.")
    Integer tp;

    @Option(names = "--layer-partition", description = "Layers per stage, e.g. 15,15,15,16 (needs --pp).")
    String layerPartition;

    @Option(names = "--chunk", description = "Chunk size (the base chunk with --dynamic-chunking); default: swept.")
    Integer chunk;

    @Option(names = "--dynamic-chunking", description = "Use dynamic chunking only (default: fixed and dynamic are both swept unless --chunk is given).")
    boolean dynamicChunking;

    @Option(names = "--chunking", defaultValue = "swept", description = "swept (fixed and dynamic chunking are both "
            + "tried, the default), or planned: also optimise the whole chunk sequence and use it; the plan prints the "
            + "schedule for `pipefill prefill --chunk-schedule` and says why it wins.")
    String chunking;

    @Option(names = "--smooth", description = "σ of dynamic chunking in [0, 1] (default: swept 0.6, 0.75, 0.85).")
    Double smooth;

    @Option(names = "--allow-inter-node-tp", description = "Also consider TP groups that span nodes.")
    boolean allowInterNodeTp;

    @Option(names = "--objective", defaultValue = "ttft", description = "Rank by ttft or throughput-per-gpu (default: ${DEFAULT-VALUE}).")
    String objective;

    @Option(names = "--calibration", description = "JSON of measured chunk times (a `pipefill prefill --pp --json` report, "
            + "or {\"samples\": [{tp, first_layer, layers, prefix, chunk, ms}], \"sends\": [{tokens, ms, inter_node}]}) to "
            + "refit the GPU's efficiency factors.")
    Path calibration;

    @Option(names = "--timeline", description = "With --json, include the simulated per-stage timeline (Gantt data).")
    boolean timeline;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        ModelSpec spec = ModelCatalog.resolve(model);
        GpuSpec g = GpuCatalog.get(gpu);
        if (!(nicGbps > 0) || !(nicLatencyUs >= 0)) {
            throw new IllegalArgumentException("--nic-gbps must be positive and --nic-latency-us ≥ 0, got " + nicGbps
                    + " and " + nicLatencyUs);
        }
        Cluster cluster = Cluster.of(g, nodes, gpusPerNode).withNic(nicGbps * 1e9 / 8, nicLatencyUs / 1000);
        Calibration.Result cal = null;
        if (calibration != null) {
            cal = calibrate(spec, cluster);
            cluster = cluster.withGpu(g.withEfficiency(cal.efficiency()));
        }
        if (!chunking.equals("swept") && !chunking.equals("planned")) {
            throw new IllegalArgumentException("--chunking must be swept or planned, got " + chunking);
        }
        PlanRequest req = new PlanRequest(spec, cluster, promptTokens, pp, tp, layerPartition, chunk, dynamicChunking,
                smooth, allowInterNodeTp, Objective.parse(objective), chunking.equals("planned"));
        if ((pp == null) != (tp == null) && !json) {
            System.err.println("pipefill: note: only one of --pp/--tp given; ranking layouts with it fixed");
        }
        PlanReport report = new Planner().plan(req);
        if (json) {
            var tree = PlanJson.tree(report, timeline);
            if (cal != null) {
                var c = tree.putObject("calibration");
                c.put("file", calibration.toString());
                c.put("samples", cal.samples());
                c.put("rms_relative_error", cal.rmsRelativeError());
                var notes = c.putArray("notes");
                cal.notes().forEach(notes::add);
            }
            out.println(new com.fasterxml.jackson.databind.ObjectMapper()
                    .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(tree));
        } else {
            human(out, report, cal);
        }
        return report.plans().isEmpty() ? 1 : 0;
    }

    private Calibration.Result calibrate(ModelSpec planned, Cluster cluster) throws IOException {
        String text;
        try {
            text = Files.readString(calibration);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--calibration " + calibration + ": file not found");
        }
        List<CalibrationSample> samples = Calibration.parse(text, calibration.toString());
        // an engine report names the model it ran; its shapes give the samples' FLOPs
        ModelSpec measured = planned;
        var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(text);
        if (root.hasNonNull("model")) {
            Path dir = Path.of(root.get("model").asText());
            if (Files.isRegularFile(dir.resolve("config.json"))) {
                measured = ModelCatalog.resolve(dir.toString());
            }
        }
        return Calibration.fit(measured, cluster, samples, Calibration.parseSends(text, calibration.toString()));
    }

    private void human(PrintStream out, PlanReport report, Calibration.Result cal) {
        report.notes().forEach(n -> out.println("note     " + n));
        if (cal != null) {
            var e = cal.efficiency();
            out.printf("calibrated from %d samples: GEMM %.3g%%, attention %.3g%%, network %.3g%%, %.3f ms per layer,"
                    + " %.3f ms per chunk (rms error %.1f%%)%n", cal.samples(), 100 * e.gemm(), 100 * e.attention(),
                    100 * e.network(), e.layerOverheadMs(), e.chunkOverheadMs(), 100 * cal.rmsRelativeError());
            cal.notes().forEach(n -> out.println("         " + n));
        }
        int rank = 1;
        for (Plan p : report.plans()) {
            out.println();
            out.printf("%s%s  TTFT %.1f s   %.0f tokens/s (%.0f per GPU)   bubble %.1f%%%n",
                    report.request().predicts() ? "" : "#" + rank++ + "  ", p.layout().name(), p.ttftMs() / 1000,
                    p.tokensPerSecond(), p.tokensPerSecondPerGpu(), 100 * p.simulation().bubbleRatio());
            out.printf("    layers %s; chunking %s%n", p.layout().partition(), p.chunking().describe());
            if (p.partitionSearched()) {
                out.printf("    --layer-partition %s (searched: the even split %s takes %.1f s)%n", p.layout().partition(),
                        io.pipefill.model.LayerPartition.even(p.layout().partition().totalLayers(), p.layout().pp()),
                        p.evenPartitionTtftMs() / 1000);
            }
            if (p.chunking().planned()) {
                out.printf("    --chunk-schedule %s%n", p.chunking().schedule().describeSizes());
            }
            out.printf("    stage utilisation %s%n", Arrays.toString(Arrays.stream(p.simulation().stageUtilization())
                    .map(u -> Math.round(u * 1000) / 1000.0).toArray()));
            MemoryEstimate m = p.memory();
            out.printf("    memory per GPU %.1f of %.1f GiB (stage %d)%n", MemoryEstimate.gib(m.totalBytes()),
                    MemoryEstimate.gib(m.usableBytes()), m.stage());
            out.println("    " + p.reason());
        }
        if (!report.rejections().isEmpty()) {
            out.println();
            out.println("rejected:");
            for (Rejection r : report.rejections()) {
                out.println("  " + r.layout() + ": " + r.reason());
            }
        }
    }
}
