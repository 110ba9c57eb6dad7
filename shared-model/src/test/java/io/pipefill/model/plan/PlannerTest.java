package io.pipefill.model.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.cost.ModelCatalog;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.GpuCatalog;
import org.junit.jupiter.api.Test;

class PlannerTest {
    private final Planner planner = new Planner();

    private static PlanRequest predict(String preset, String gpu, int nodes, int prompt, int pp, int tp, Integer chunk,
                                       boolean allowInterNodeTp) {
        return new PlanRequest(ModelCatalog.preset(preset), Cluster.of(GpuCatalog.get(gpu), nodes, 8), prompt, pp, tp,
                null, chunk, false, null, allowInterNodeTp, Objective.TTFT);
    }

    private static PlanRequest recommend(String preset, String gpu, int nodes, int prompt) {
        return new PlanRequest(ModelCatalog.preset(preset), Cluster.of(GpuCatalog.get(gpu), nodes, 8), prompt, null, null,
                null, null, false, null, false, Objective.TTFT);
    }

    @Test
    void interNodeTpPaysForItsAllReduces() {
        double tp16 = planner.plan(predict("llama-3.1-70b", "h100", 2, 131072, 1, 16, 4096, true)).best().ttftMs();
        double pp2tp8 = planner.plan(predict("llama-3.1-70b", "h100", 2, 131072, 2, 8, 4096, true)).best().ttftMs();
        assertTrue(tp16 > 1.5 * pp2tp8, "TP16 over two nodes " + tp16 + " ms vs PP2×TP8 " + pp2tp8 + " ms");
    }

    @Test
    void ttftGrowsSuperLinearlyWithThePrompt() {
        int[] lengths = {131072, 262144, 524288, 1048576};
        double[] ttft = new double[lengths.length];
        for (int i = 0; i < lengths.length; i++) {
            ttft[i] = planner.plan(predict("llama-3.1-8b", "h20", 1, lengths[i], 8, 1, 4096, false)).best().ttftMs();
            if (i > 0) {
                assertTrue(ttft[i] / lengths[i] > ttft[i - 1] / lengths[i - 1], "time per token grows at " + lengths[i]);
            }
        }
        // attention is quadratic: 8× the tokens costs well over 8× the time
        assertTrue(ttft[3] / ttft[0] > 8 * 1.5, "1M vs 128K: " + ttft[3] + " / " + ttft[0]);
    }

    @Test
    void theWholePipelineNeverBeatsTheClustersPeak() {
        for (String preset : ModelCatalog.PRESETS) {
            PlanReport r = planner.plan(recommend(preset, "h100", 4, 131072));
            ModelSpec m = r.request().model();
            double n = r.request().promptTokens();
            // at least the GEMMs over active parameters and QK·V over causal pairs must be done
            double pairs = n * (n + 1) / 2;
            double perPair = m.attention() instanceof io.pipefill.model.cost.AttentionSpec.Gqa g
                    ? 4.0 * g.heads() * g.headDim() : 0;
            double flops = 2 * n * m.activeParams() - 2 * n * 2 * m.embeddingParams() + pairs * perPair * m.numLayers();
            for (Plan p : r.plans()) {
                double peak = p.layout().gpus() * (m.isFp8() ? 1979e12 : 989e12);
                assertTrue(flops / (p.ttftMs() / 1e3) <= peak, preset + " " + p.layout().name());
            }
        }
    }

    @Test
    void aLayoutThatDoesNotFitIsRejectedWithNumbers() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> planner.plan(predict("llama-3.1-405b", "h100", 1, 131072, 1, 8, 4096, false)));
        assertTrue(e.getMessage().contains("PP1×TP8 does not fit") && e.getMessage().contains("GiB per GPU (weights")
                && e.getMessage().contains("usable"), e.getMessage());
        PlanReport r = planner.plan(recommend("llama-3.1-405b", "h100", 1, 131072));
        assertTrue(r.plans().isEmpty());
        assertFalse(r.rejections().isEmpty());
        assertTrue(r.rejections().stream().allMatch(x -> x.reason().contains("GiB")), r.rejections().toString());
    }

    @Test
    void recommendationsAreRankedAndExplained() {
        PlanReport r = planner.plan(recommend("llama-3.1-70b", "h20", 4, 131072));
        assertFalse(r.plans().isEmpty());
        for (int i = 1; i < r.plans().size(); i++) {
            assertTrue(r.plans().get(i).ttftMs() >= r.plans().get(i - 1).ttftMs());
            assertTrue(r.plans().get(i).reason().contains("above the best"), r.plans().get(i).reason());
        }
        Plan best = r.best();
        assertEquals(32, best.layout().gpus());
        assertTrue(best.reason().contains("Busiest stage") && best.reason().contains("Bubble"), best.reason());
        assertTrue(best.sweep().size() > 3, "chunk sizes and σ were swept");
    }

    @Test
    void moeAndMlaModelsPlan() {
        Plan ds = planner.plan(recommend("deepseek-v3.1", "h20", 4, 131072)).best();
        assertTrue(ds.ttftMs() > 0);
        Plan q = planner.plan(recommend("qwen3-235b-a22b-fp8", "h20", 2, 131072)).best();
        assertTrue(q.ttftMs() > 0);
    }

    @Test
    void dynamicChunkingShrinksChunksAlongTheprompt() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-70b");
        PlanRequest r = new PlanRequest(m, Cluster.of(GpuCatalog.get("h20"), 4, 8), 262144, 4, 8, null, 8192, true, 0.75,
                false, Objective.TTFT);
        Plan p = planner.plan(r).best();
        assertTrue(p.chunking().dynamic(), p.chunking().describe());
        var chunks = p.chunking().schedule().chunks();
        assertEquals(8192, chunks.get(0).size());
        assertTrue(chunks.get(chunks.size() - 2).size() < 8192, p.chunking().describe());
        assertEquals(0.75, p.chunking().sigma(), 0);
    }

    @Test
    void badRequestsAreRefused() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-8b");
        Cluster c = Cluster.of(GpuCatalog.get("h20"), 1, 8);
        var e = assertThrows(IllegalArgumentException.class,
                () -> new PlanRequest(m, c, 0, null, null, null, null, false, null, false, Objective.TTFT));
        assertTrue(e.getMessage().contains("--prompt-tokens must be positive"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new PlanRequest(m, c, 100, null, null, null, -5, false, null, false, Objective.TTFT));
        assertTrue(e.getMessage().contains("--chunk must be positive, got -5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new PlanRequest(m, c, 100, null, null, null, null, true, 1.5, false, Objective.TTFT));
        assertTrue(e.getMessage().contains("--smooth"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Objective.parse("latency"));
        assertTrue(e.getMessage().contains("allowed: ttft, throughput-per-gpu"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> planner.plan(
                new PlanRequest(m, c, 4096, 2, 4, "10,10", null, false, null, false, Objective.TTFT)));
        assertTrue(e.getMessage().contains("sums to 20 but the model has 32 layers"), e.getMessage());
    }

    @Test
    void throughputPerGpuConsidersFewerNodes() {
        PlanRequest r = new PlanRequest(ModelCatalog.preset("llama-3.1-8b"), Cluster.of(GpuCatalog.get("h100"), 2, 8),
                65536, null, null, null, null, false, null, false, Objective.THROUGHPUT_PER_GPU);
        PlanReport rep = planner.plan(r);
        assertTrue(rep.plans().stream().anyMatch(p -> p.layout().gpus() == 8));
        for (int i = 1; i < rep.plans().size(); i++) {
            assertTrue(rep.plans().get(i).tokensPerSecondPerGpu() <= rep.plans().get(i - 1).tokensPerSecondPerGpu());
        }
    }

    @Test
    void plannedChunkingIsNeverSlowerThanTheSweptRulesAndSaysWhy() {
        PlanRequest req = new PlanRequest(ModelCatalog.preset("llama-3.1-8b"), Cluster.of(GpuCatalog.get("h20"), 1, 8),
                65536, 4, 2, null, null, false, null, false, Objective.TTFT, true);
        Plan p = planner.plan(req).best();
        assertTrue(p.chunking().planned(), p.chunking().describe());
        double bestSwept = p.sweep().stream().filter(s -> !s.chunking().startsWith("planned") && !Double.isNaN(s.ttftMs()))
                .mapToDouble(Plan.SweepPoint::ttftMs).min().orElseThrow();
        assertTrue(p.ttftMs() <= bestSwept, p.ttftMs() + " vs " + bestSwept);
        assertEquals(65536, p.chunking().schedule().promptTokens());
        for (int i = 0; i + 1 < p.chunking().schedule().size(); i++) {
            int n = p.chunking().schedule().sizes().get(i);
            assertEquals(0, n % 64, "aligned: " + p.chunking().schedule().describeSizes());
        }
        assertTrue(p.reason().contains("Why planned") && p.reason().contains("starts after"), p.reason());
        assertTrue(p.reason().contains("Idle time summed over the stages") && p.reason().contains("of the SMs' slots"),
                p.reason());
        var json = PlanJson.tree(planner.plan(req), false);
        assertEquals(p.chunking().schedule().describeSizes(), json.get("chunking").get("schedule").asText());
        assertTrue(json.get("chunking").get("planned").asBoolean());
        var e = assertThrows(IllegalArgumentException.class, () -> new PlanRequest(req.model(), req.cluster(), 65536, 4, 2,
                null, 4096, false, null, false, Objective.TTFT, true));
        assertTrue(e.getMessage().contains("drop --chunk"), e.getMessage());
        // a short prompt's plan takes a fraction of a millisecond: its reasons keep the digits that tell them apart
        Plan small = planner.plan(new PlanRequest(req.model(), Cluster.of(GpuCatalog.get("h100"), 1, 8), 512, 2, 1, null,
                null, false, null, false, Objective.TTFT, true)).best();
        assertTrue(small.ttftMs() < 100, small.ttftMs() + " ms");
        assertTrue(small.reason().matches("(?s).*Why planned .*: TTFT \\d+\\.\\d{1,3} ms vs \\d+\\.\\d{1,3} ms.*"), small.reason());
    }

    @Test
    void anUnevenSplitWinsWhereDenseAndMoeLayersDiffer() {
        // the first half dense and narrow, the second half MoE: the even split puts all the MoE work on stage 1
        ModelSpec m = io.pipefill.model.cost.ModelSpecJson.parse("""
                {"architectures": ["Qwen3MoeForCausalLM"], "vocab_size": 151936, "hidden_size": 4096,
                 "intermediate_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
                 "num_key_value_heads": 4, "head_dim": 128, "num_experts": 64, "num_experts_per_tok": 8,
                 "moe_intermediate_size": 1536, "mlp_only_layers": [0, 1, 2, 3, 4, 5, 6, 7]}""", "half-dense", "test");
        Cluster c = Cluster.of(GpuCatalog.get("h20"), 1, 8);
        PlanRequest req = new PlanRequest(m, c, 32768, 2, 4, null, 4096, false, null, false, Objective.TTFT);
        Plan p = planner.plan(req).best();
        assertTrue(p.partitionSearched(), p.reason());
        int[] parts = p.layout().partition().layersPerStage();
        assertTrue(parts[0] > parts[1], "more of the cheap dense layers on stage 0: " + p.layout().partition());
        assertTrue(p.ttftMs() < 0.98 * p.evenPartitionTtftMs(), p.ttftMs() + " vs even " + p.evenPartitionTtftMs());
        // the even split, asked for, simulates to the TTFT the search compared against
        Plan even = planner.plan(new PlanRequest(m, c, 32768, 2, 4, "8,8", 4096, false, null, false, Objective.TTFT))
                .best();
        assertEquals(even.ttftMs(), p.evenPartitionTtftMs(), 1e-9);
        assertFalse(even.partitionSearched());
        assertTrue(p.reason().contains("--layer-partition " + p.layout().partition()) && p.reason().contains("MoE"),
                p.reason());
        var json = PlanJson.tree(planner.plan(req), false);
        assertEquals(p.layout().partition().toString(), json.get("layer_partition_arg").asText());
        assertTrue(json.get("layer_partition_searched").asBoolean());
        assertEquals(p.evenPartitionTtftMs(), json.get("even_partition_ttft_ms").asDouble(), 1e-9);
    }
}
