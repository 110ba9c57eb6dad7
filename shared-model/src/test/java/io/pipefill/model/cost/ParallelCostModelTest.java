package io.pipefill.model.cost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.GpuCatalog;
import io.pipefill.model.hw.GpuSpec;
import org.junit.jupiter.api.Test;

class ParallelCostModelTest {

    private static ParallelCostModel model(String preset, String gpu, int nodes, int pp, int tp) {
        ModelSpec m = ModelCatalog.preset(preset);
        Cluster c = Cluster.of(GpuCatalog.get(gpu), nodes, 8);
        return new ParallelCostModel(m, c, Layout.of(m, c, pp, tp, null, true));
    }

    @Test
    void computeRatesNeverExceedThePeak() {
        for (String preset : ModelCatalog.PRESETS) {
            for (String gpu : GpuCatalog.names()) {
                ParallelCostModel cost = model(preset, gpu, 4, 4, 8);
                GpuSpec g = cost.cluster().gpu();
                double peak = Math.max(g.bf16Flops(), g.gemmPeak(cost.model().weightBytes()));
                for (int n : new int[] {1, 16, 512, 4096, 32768}) {
                    for (long prefix : new long[] {0, 8192, 1 << 20}) {
                        ChunkCost c = cost.chunkCost(1, prefix, n);
                        double rate = (c.gemmFlops() + c.attentionFlops()) / (c.computeMs() / 1e3);
                        assertTrue(rate <= peak, preset + " on " + gpu + " n=" + n + " prefix=" + prefix + ": "
                                + rate / 1e12 + " TFLOP/s > peak " + peak / 1e12);
                    }
                }
            }
        }
    }

    @Test
    void largeChunksAreComputeBoundAndTinyOnesReadTheWeights() {
        ParallelCostModel cost = model("llama-3.1-70b", "h100", 1, 1, 8);
        ChunkCost big = cost.layerCost(false, 0, 8192);
        assertFalse(big.gemmMemoryBound());
        ChunkCost tiny = cost.layerCost(false, 0, 1);
        assertTrue(tiny.gemmMemoryBound());
        // one layer's weights per GPU / (3.35 TB/s × 0.918): one token's compute and activations are lost in it
        double bytes = (2.0 * 8192 * 8 * 128 + 2.0 * 8192 * 1 * 128 + 3.0 * 8192 * 28672 / 8) * 2;
        double read = bytes / (3.35e12 * 0.918) * 1e3;
        assertEquals(read, tiny.gemmMs(), 1e-3 * read);
    }

    @Test
    void attentionGrowsWithThePrefix() {
        ParallelCostModel cost = model("qwen3-32b", "h20", 1, 2, 4);
        double a0 = cost.layerCost(false, 0, 4096).attentionMs();
        double a1 = cost.layerCost(false, 1 << 20, 4096).attentionMs();
        // causal pairs: n(n+1)/2 vs n·L + n(n+1)/2, the first at the short-key-range share of the kernel's rate
        double pairs0 = 4096.0 * 4097 / 2;
        double pairs1 = 4096.0 * (1 << 20) + pairs0;
        var shapes = cost.cluster().gpu().shapes();
        double share0 = shapes.attentionShare(0, 4096, 64 / 4);
        double share1 = shapes.attentionShare(1 << 20, 4096, 64 / 4);
        assertTrue(share0 < share1, share0 + " vs " + share1);
        assertEquals(pairs1 / pairs0 * share0 / share1, a1 / a0, 1e-9);
    }

    @Test
    void tpAllReduceIsARingOverTheRightLink() {
        ParallelCostModel inNode = model("llama-3.1-70b", "h100", 2, 2, 8);
        assertTrue(inNode.tpInsideNode());
        double bytes = 4096.0 * 8192 * 2;
        double nvlink = 900e9 / 2 * 0.8;
        assertEquals(2 * 7 * 0.010 + 2.0 * 7 / 8 * bytes / nvlink * 1e3, inNode.allReduceMs(bytes), 1e-9);
        assertTrue(inNode.linkCrossesNodes(0), "stage 0 on node 0, stage 1 on node 1");
        ParallelCostModel across = model("llama-3.1-70b", "h100", 2, 1, 16);
        assertFalse(across.tpInsideNode());
        assertEquals(2 * 15 * 0.025 + 2.0 * 15 / 16 * bytes / (50e9 * 0.8) * 1e3, across.allReduceMs(bytes), 1e-9);
    }

    @Test
    void sendCarriesHiddenAndResidual() {
        ParallelCostModel cost = model("llama-3.1-8b", "h20", 1, 2, 4);
        assertFalse(cost.linkCrossesNodes(0));
        assertEquals(0.010 + 2.0 * 1000 * 4096 * 2 / (450e9 * 0.8) * 1e3, cost.sendMs(0, 1000), 1e-9);
    }

    @Test
    void memoryCountsWeightsKvAndActivations() {
        ParallelCostModel cost = model("llama-3.1-8b", "h20", 1, 2, 4);
        MemoryEstimate m = cost.memory(0, 131072, 4096);
        // 16 layers: KV heads 8 / TP 4 = 2 per GPU, K and V, head dim 128, BF16
        assertEquals(131072L * 16 * 2 * 2 * 128 * 2, m.kvBytes());
        assertTrue(m.fits());
        ParallelCostModel ds = model("deepseek-v3.1", "h20", 4, 4, 8);
        // MLA: the 576-element latent is replicated on every TP rank, not split
        int layers = ds.layout().partition().layersPerStage()[0];
        assertEquals(131072L * layers * 576 * 2, ds.memory(0, 131072, 4096).kvBytes());
    }

    @Test
    void layoutErrorsSayWhatIsAllowed() {
        ModelSpec l70 = ModelCatalog.preset("llama-3.1-70b");
        Cluster c = Cluster.of(GpuCatalog.get("h100"), 16, 8);
        var e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, c, 2, 3, null, false));
        assertTrue(e.getMessage().contains("TP 3 does not divide the 64 attention heads (allowed: 1, 2, 4, 8, 16, 32, 64)"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, c, 100, 1, null, false));
        assertTrue(e.getMessage().contains("PP 100 exceeds the model's 80 layers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, c, 4, 1, "20,20,20,21", false));
        assertTrue(e.getMessage().contains("sums to 81 but the model has 80 layers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, c, 1, 16, null, false));
        assertTrue(e.getMessage().contains("spans nodes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, c, 0, 8, null, false));
        assertTrue(e.getMessage().contains("at least 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(l70, Cluster.of(GpuCatalog.get("h100"), 1, 8),
                4, 8, null, false));
        assertTrue(e.getMessage().contains("needs 32 GPUs but the cluster has 8"), e.getMessage());
        ModelSpec ds = ModelCatalog.preset("deepseek-v3.1");
        e = assertThrows(IllegalArgumentException.class, () -> Layout.of(ds, c, 1, 48, null, true));
        assertTrue(e.getMessage().contains("256 experts"), e.getMessage());
        // MLA: only the query heads constrain TP (the latent is shared by all heads)
        Layout.of(ds, c, 2, 8, null, false);
    }
}
