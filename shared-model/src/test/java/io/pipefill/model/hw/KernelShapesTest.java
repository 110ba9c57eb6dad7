package io.pipefill.model.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.model.cost.Layout;
import io.pipefill.model.cost.ModelCatalog;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.cost.ParallelCostModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class KernelShapesTest {

    /**
     * The H200 cuBLASLt probe's timings (the measured table the GEMM shape model was fitted to), read from the report
     * itself: the model on an H200 must give each within 2 %.
     */
    @Test
    void reproducesTheH200GemmProbe() throws Exception {
        Path report = Path.of("..", "docs", "gpu", "h200-2026-11-28-run3-gemm-probe.jsonl");
        GpuSpec h200 = GpuCatalog.get("h200");
        Efficiency e = h200.efficiency();
        Pattern shape = Pattern.compile("(\\d+)x(\\d+) · (\\d+)x(\\d+)ᵀ → (bf16|fp32)( \\(\\+= C\\))?.*");
        ObjectMapper json = new ObjectMapper();
        int checked = 0;
        for (String line : Files.readAllLines(report)) {
            JsonNode n = json.readTree(line);
            if (!"timing".equals(n.path("case").asText())) {
                continue;
            }
            Matcher mt = shape.matcher(n.get("shape").asText());
            assertTrue(mt.matches(), n.get("shape").asText());
            double m = Double.parseDouble(mt.group(1));
            double k = Double.parseDouble(mt.group(2));
            double nn = Double.parseDouble(mt.group(3));
            double out = mt.group(5).equals("fp32") ? 4 : 2;
            double bytes = k * nn * 2 + m * k * 2 + m * nn * out + (mt.group(6) != null ? m * nn * 2 : 0);
            double computeS = 2 * m * nn * k / (h200.bf16Flops() * e.gemm());
            double trafficS = bytes / (h200.hbmBytesPerS() * e.memory());
            double modelMs = h200.shapes().gemmSeconds(computeS, trafficS) * 1e3;
            double measuredMs = n.get("lt_min_ms").asDouble();
            assertEquals(measuredMs, modelMs, 0.02 * measuredMs, n.get("name").asText());
            checked++;
        }
        assertEquals(6, checked, "the probe's six timings");
    }

    @Test
    void gemmEfficiencyFallsForShortChunks() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-70b");
        Cluster c = Cluster.of(GpuCatalog.get("h200"), 1, 8);
        ParallelCostModel cost = new ParallelCostModel(m, c, Layout.of(m, c, 1, 8, null, false));
        double previous = 0;
        for (int n : new int[] {16, 64, 256, 1024, 4096, 16384}) {
            var layer = cost.layerCost(false, 0, n);
            double share = layer.gemmFlops() / (layer.gemmMs() / 1e3) / c.gpu().bf16Flops();
            assertTrue(share > previous, "n=" + n + ": " + share + " of the peak, not above " + previous);
            assertTrue(share <= c.gpu().efficiency().gemm() + 1e-12, "never above the large-shape share: " + share);
            previous = share;
        }
        assertTrue(previous > 0.97 * c.gpu().efficiency().gemm(), "16K tokens run at the large-shape rate: " + previous);
        var tiny = cost.layerCost(false, 0, 16);
        assertTrue(tiny.gemmFlops() / (tiny.gemmMs() / 1e3) / c.gpu().bf16Flops() < 0.1, "16 tokens read the weights");
    }

    @Test
    void interpolatesBetweenTablePointsAndHoldsTheEnds() {
        EfficiencyCurve t = KernelShapes.MEASURED_ATTENTION_BY_KEYS;
        assertEquals(0.870, t.at(4096), 0);
        assertEquals(0.995, t.at(32768), 0);
        assertEquals(1.0, t.at(61440), 0);
        // log-linear: the geometric mean of two points gets the mean of their shares
        assertEquals((0.870 + 0.995) / 2, t.at(Math.sqrt(4096.0 * 32768)), 1e-12);
        assertEquals(0.870 + (0.995 - 0.870) / 3, t.at(8192), 1e-12);
        assertEquals(0.870, t.at(100), 0, "below the table: its first value");
        assertEquals(1.0, t.at(1 << 20), 0, "above the table: its last value");
        var e = assertThrows(IllegalArgumentException.class, () -> new EfficiencyCurve(new double[] {2, 1},
                new double[] {0.5, 0.6}));
        assertTrue(e.getMessage().contains("must increase"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new EfficiencyCurve(new double[] {1}, new double[] {1.5}));
    }

    @Test
    void attentionCountsTheLastWaveOfCtas() {
        KernelShapes h20 = GpuCatalog.get("h20").shapes();
        // 16 heads per GPU: 512 tokens are 4 query tiles × 16 = 64 CTAs on 78 SMs, one part-empty wave
        assertEquals(64.0 / 78 * KernelShapes.MEASURED_ATTENTION_BY_KEYS.at(100_000 + 256.5),
                h20.attentionShare(100_000, 512, 16), 1e-12);
        // 4096 tokens: 512 CTAs in 7 waves of 78
        assertEquals(512.0 / (7 * 78) * KernelShapes.MEASURED_ATTENTION_BY_KEYS.at(100_000 + 2048.5),
                h20.attentionShare(100_000, 4096, 16), 1e-12);
    }

    @Test
    void otherGpusScaleByTheirDatasheetPeaks() {
        ModelSpec m = ModelCatalog.preset("llama-3.1-8b");
        double[] h200 = gemmMs(m, "h200");
        double[] h20 = gemmMs(m, "h20");
        // 16K tokens: compute-bound on both, the BF16 peaks' ratio (989 / 148)
        assertEquals(989.0 / 148, h20[1] / h200[1], 0.02 * 989 / 148);
        // one token: the weights' read, the HBM bandwidths' ratio (4.8 / 4.0)
        assertEquals(4.8 / 4.0, h20[0] / h200[0], 0.01 * 4.8 / 4.0);
        // and the H20's low peak makes its GEMMs compute-bound at shorter chunks: 256 tokens are near its best rate
        ModelSpec l = ModelCatalog.preset("llama-3.1-70b");
        assertTrue(shareAt(l, "h20", 256) > shareAt(l, "h200", 256) + 0.1);
    }

    private static double[] gemmMs(ModelSpec m, String gpu) {
        Cluster c = Cluster.of(GpuCatalog.get(gpu), 1, 8);
        ParallelCostModel cost = new ParallelCostModel(m, c, Layout.of(m, c, 1, 1, null, false));
        return new double[] {cost.layerCost(false, 0, 1).gemmMs(), cost.layerCost(false, 0, 16384).gemmMs()};
    }

    private static double shareAt(ModelSpec m, String gpu, int n) {
        Cluster c = Cluster.of(GpuCatalog.get(gpu), 1, 8);
        ParallelCostModel cost = new ParallelCostModel(m, c, Layout.of(m, c, 1, 8, null, false));
        var layer = cost.layerCost(false, 0, n);
        return layer.gemmFlops() / (layer.gemmMs() / 1e3) / c.gpu().bf16Flops() / c.gpu().efficiency().gemm();
    }

    @Test
    void badShapesAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> new KernelShapes(0, 128, 2, EfficiencyCurve.flat()));
        assertTrue(e.getMessage().contains("SM"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new KernelShapes(132, 128, 0.5, EfficiencyCurve.flat()));
        assertTrue(e.getMessage().contains("exponent"), e.getMessage());
    }
}
