package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Hand-computed cases (python, math.sqrt) of the chunk-size rule in DESIGN.md. */
class DynamicChunkingTest {
    private final LatencyFit fit = new LatencyFit(1e-6, 0.01, 5.0); // T = f(1024) − f(0) = 11.288576 ms

    private DynamicChunking rule(double sigma) {
        return new DynamicChunking(1024, sigma, fit, 4096, 64);
    }

    @Test
    void firstChunkIsAlwaysBase() {
        assertEquals(1024, rule(1).chunkAfter(0, 100_000));
        assertEquals(300, rule(1).chunkAfter(0, 300), "unless the prompt is shorter");
    }

    @Test
    void solvesEqualCostAndAlignsDown() {
        // x* = 873.62 after 1024 tokens -> 832; after 8192: x* = 421.13 -> 384
        assertEquals(832, rule(1).chunkAfter(1024, 100_000));
        assertEquals(384, rule(1).chunkAfter(8192, 100_000));
    }

    @Test
    void smoothingPullsTowardBase() {
        // σ = 0.5 after 1024: 1024 + 0.5·(873.62 − 1024) = 948.8 -> 896; σ = 0.75 after 8192: 571.85 -> 512
        assertEquals(896, rule(0.5).chunkAfter(1024, 100_000));
        assertEquals(512, rule(0.75).chunkAfter(8192, 100_000));
        // σ = 0 is fixed chunking
        assertEquals(1024, rule(0).chunkAfter(50_000, 100_000));
    }

    @Test
    void boundsApply() {
        // x* = 53.7 after 100k tokens, floored at base/4 = 256
        assertEquals(256, rule(1).chunkAfter(100_000, 1_000_000));
        // the remainder of the prompt caps the last chunk
        assertEquals(100, rule(1).chunkAfter(1024, 100));
        // with a page size above 64 the alignment follows it: 873.6 -> 768 for 256-token pages
        assertEquals(768, new DynamicChunking(1024, 1, fit, 4096, DynamicChunking.alignmentFor(256)).chunkAfter(1024, 100_000));
        assertThrows(IllegalArgumentException.class, () -> new DynamicChunking(1024, 1, fit, 512, 64), "max below base");
    }

    @Test
    void scheduleCoversThePromptWithShrinkingChunks() {
        ChunkSchedule s = rule(0.75).schedule(20_000);
        assertEquals(20_000, s.chunks().stream().mapToInt(Chunk::size).sum());
        assertEquals(1024, s.chunks().get(0).size());
        for (int i = 2; i < s.size() - 1; i++) {
            assertTrue(s.chunks().get(i).size() <= s.chunks().get(i - 1).size(), "non-increasing: " + s.chunks());
            assertEquals(0, s.chunks().get(i).size() % 64);
        }
    }

    @Test
    void rejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> new DynamicChunking(1024, 1.5, fit, 4096, 64));
        assertThrows(IllegalArgumentException.class, () -> new DynamicChunking(0, 0.5, fit, 4096, 64));
        assertEquals(64, DynamicChunking.alignmentFor(16));
        assertEquals(256, DynamicChunking.alignmentFor(256));
    }

    @Test
    void leastSquaresRecoversAQuadraticAndRefusesFlatProfiles() {
        double[] l = {256, 512, 768, 1024, 1280};
        double[] ms = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            ms[i] = 2e-6 * l[i] * l[i] + 0.03 * l[i] + 1.5;
        }
        LatencyFit f = LatencyFit.leastSquares(l, ms);
        assertEquals(2e-6, f.a(), 1e-12);
        assertEquals(0.03, f.b(), 1e-9);
        assertEquals(1.5, f.c(), 1e-6);
        double[] linear = {10, 20, 30, 40, 50};
        var e = assertThrows(IllegalArgumentException.class, () -> LatencyFit.leastSquares(l,
                new double[] {10, 30, 45, 55, 60}));
        assertTrue(e.getMessage().contains("not positive"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LatencyFit.leastSquares(new double[] {1, 1, 2}, linear));
        // b < 0 is clamped
        double[] neg = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            neg[i] = 1e-5 * l[i] * l[i] - 0.001 * l[i] + 4;
        }
        assertEquals(0, LatencyFit.leastSquares(l, neg).b());
    }
}
