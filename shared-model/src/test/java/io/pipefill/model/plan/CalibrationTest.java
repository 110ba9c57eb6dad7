package io.pipefill.model.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.LayerPartition;
import io.pipefill.model.cost.ChunkCost;
import io.pipefill.model.cost.Layout;
import io.pipefill.model.cost.ModelCatalog;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.cost.ParallelCostModel;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.Efficiency;
import io.pipefill.model.hw.GpuCatalog;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CalibrationTest {

    @Test
    void recoversTheFactorsThatMadeTheSamples() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-8b");
        Cluster defaults = Cluster.of(GpuCatalog.get("h100"), 1, 8);
        Efficiency truth = new Efficiency(0.5, 0.35, defaults.gpu().efficiency().memory(), 0.8, 0.05, 0.4);
        Cluster measured = defaults.withGpu(defaults.gpu().withEfficiency(truth));
        List<CalibrationSample> samples = new ArrayList<>();
        for (int tp : new int[] {1, 2}) {
            ParallelCostModel cost = new ParallelCostModel(m, measured, new Layout(1, tp, LayerPartition.even(32, 1)));
            // short chunks too: their GEMMs are partly HBM-bound, which the fit has to see through
            for (int n : new int[] {256, 1024, 2048, 4096}) {
                for (long prefix : new long[] {0, 16384, 65536}) {
                    for (int layers : new int[] {4, 8}) {
                        ChunkCost c = cost.layerCost(false, prefix, n).times(layers);
                        assertFalse(c.attentionMemoryBound(), "attention must be compute-bound");
                        samples.add(new CalibrationSample(tp, 0, layers, prefix, n, c.totalMs() + 0.4));
                    }
                }
            }
        }
        Calibration.Result r = Calibration.fit(m, defaults, samples);
        assertEquals(0.5, r.efficiency().gemm(), 1e-6);
        assertEquals(0.35, r.efficiency().attention(), 1e-6);
        assertEquals(0.05, r.efficiency().layerOverheadMs(), 1e-6);
        assertEquals(0.4, r.efficiency().chunkOverheadMs(), 1e-6);
        assertEquals(0, r.rmsRelativeError(), 1e-9);
        assertTrue(r.notes().isEmpty(), r.notes().toString());
    }

    @Test
    void refitsTheNetworkFromMeasuredSends() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-8b");
        Cluster defaults = Cluster.of(GpuCatalog.get("h20"), 2, 8);
        Cluster slow = defaults.withGpu(defaults.gpu().withEfficiency(defaults.gpu().efficiency().withNetwork(0.5)));
        ParallelCostModel across = new ParallelCostModel(m, slow, new Layout(2, 8, LayerPartition.even(32, 2)));
        ParallelCostModel inside = new ParallelCostModel(m, slow, new Layout(2, 4, LayerPartition.even(32, 2)));
        assertTrue(across.linkCrossesNodes(0) && !inside.linkCrossesNodes(0));
        List<SendSample> sends = new ArrayList<>();
        for (int n : new int[] {1024, 4096, 16384}) {
            sends.add(new SendSample(n, across.sendMs(0, n), true));
            sends.add(new SendSample(n, inside.sendMs(0, n), false));
        }
        List<CalibrationSample> chunks = List.of(new CalibrationSample(1, 0, 4, 0, 4096, 100),
                new CalibrationSample(1, 0, 4, 8192, 2048, 70), new CalibrationSample(1, 0, 8, 0, 1024, 60));
        Calibration.Result r = Calibration.fit(m, defaults, chunks, sends);
        assertEquals(0.5, r.efficiency().network(), 1e-9);
        String file = "{\"samples\": [], \"sends\": [{\"tokens\": 4096, \"ms\": 2.5, \"inter_node\": true}]}";
        assertEquals(List.of(new SendSample(4096, 2.5, true)), Calibration.parseSends(file, "f.json"));
    }

    @Test
    void readsTheEngineReport() {
        String json = """
                {"model": "models/x", "pp": 2, "tp": 1, "layer_partition": [1, 2],
                 "timeline": [
                  {"stage": 0, "chunk": 0, "offset": 0, "size": 30, "compute_ms": 4.0, "send_ms": 0.1},
                  {"stage": 0, "chunk": 1, "offset": 30, "size": 30, "compute_ms": 5.0, "send_ms": 0.1},
                  {"stage": 1, "chunk": 0, "offset": 0, "size": 30, "compute_ms": 8.0, "send_ms": 0},
                  {"stage": 1, "chunk": 1, "offset": 30, "size": 30, "compute_ms": 9.5, "send_ms": 0}]}""";
        List<CalibrationSample> s = Calibration.parse(json, "run.json");
        assertEquals(3, s.size(), "the last stage's last chunk includes the lm_head and is left out");
        assertEquals(new CalibrationSample(1, 1, 2, 0, 30, 8.0), s.get(2));
        assertEquals(new CalibrationSample(1, 0, 1, 30, 30, 5.0), s.get(1));
    }

    @Test
    void aRealEngineReportCalibrates() throws Exception {
        // `pipefill prefill --model tiny-llama --random-tokens 2000 --pp 2 --chunk 200 --threads 1 --json` on the CPU
        String report;
        try (var in = getClass().getResourceAsStream("/calibration/engine-pp2-tiny-llama.json")) {
            report = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        List<CalibrationSample> s = Calibration.parse(report, "engine-pp2-tiny-llama.json");
        assertEquals(19, s.size(), "10 chunks × 2 stages, less the last stage's last chunk");
        assertTrue(s.stream().allMatch(x -> x.layers() == 2 && x.chunk() == 200));
        assertEquals(2, s.stream().filter(x -> x.prefix() == 400).toList().get(1).firstLayer());
        ModelSpec tiny = io.pipefill.model.cost.ModelSpecJson.parse("""
                {"architectures": ["LlamaForCausalLM"], "vocab_size": 512, "hidden_size": 128, "intermediate_size": 384,
                 "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32}""",
                "tiny-llama", "test");
        Calibration.Result r = Calibration.fit(tiny, Cluster.of(GpuCatalog.get("h20"), 1, 8), s);
        // one chunk size: the overhead cannot be told from GEMM time and keeps its default
        assertEquals(0.02, r.efficiency().layerOverheadMs(), 0);
        assertEquals(0.15, r.efficiency().chunkOverheadMs(), 0);
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("too few chunk sizes")), r.notes().toString());
        assertTrue(r.efficiency().gemm() < 0.01, "a CPU is far below an H20's peak: " + r.efficiency());
    }

    @Test
    void badFilesAreExplained() {
        var e = assertThrows(IllegalArgumentException.class, () -> Calibration.parse("{\"x\": 1}", "c.json"));
        assertTrue(e.getMessage().contains("expected an engine report"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Calibration.parse(
                "{\"samples\": [{\"tp\": 1, \"layers\": 2, \"chunk\": 0, \"ms\": 3}]}", "c.json"));
        assertTrue(e.getMessage().contains("c.json") && e.getMessage().contains("chunk ≥ 1"), e.getMessage());
    }
}
