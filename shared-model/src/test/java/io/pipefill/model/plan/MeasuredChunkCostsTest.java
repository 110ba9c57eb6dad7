package io.pipefill.model.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.pipeline.Timeline;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.SimulationResult;
import io.pipefill.model.sim.StageStep;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fit recovers known chunk-cost curves from a timeline, noise-free exactly and with 2 % noise closely. */
class MeasuredChunkCostsTest {
    private static final double[][] TRUE = {{3, 0.02, 4e-7, 1e-6}, {5, 0.03, 6e-7, 2e-6}};

    private static Timeline timeline(double noise, List<Integer> sizes) {
        return timeline(noise, sizes, 1);
    }

    /** {@code firstChunkFactor}: each stage's first chunk takes this many times its cost (the engine's warm-up). */
    private static Timeline timeline(double noise, List<Integer> sizes, double firstChunkFactor) {
        SplittableRandom rnd = new SplittableRandom(3);
        PipelineSimulator sim = PipelineSimulator.engine(2, (s, prefix, n) -> TRUE[s][0] + TRUE[s][1] * n
                + TRUE[s][2] * n * prefix + TRUE[s][3] * n * (double) n, (from, n) -> 0.5 + 1e-3 * n, 0);
        SimulationResult r = sim.run(ChunkSchedule.ofSizes(sizes));
        List<StageEvent> events = new ArrayList<>();
        for (StageStep st : r.timeline()) {
            double ms = st.computeMs() * (1 + noise * (rnd.nextDouble() * 2 - 1)) * (st.chunk() == 0 ? firstChunkFactor : 1);
            events.add(new StageEvent(0, st.stage(), st.stage(), 0, false, st.chunk(), st.offset(), st.size(), st.startMs(),
                    0, st.startMs(), ms, st.sendStartMs() >= 0 ? st.endMs() : -1, st.sendEndMs()));
        }
        return new Timeline(2, events);
    }

    private static List<Integer> mixed(int prompt) {
        List<Integer> sizes = new ArrayList<>();
        int[] cycle = {256, 512, 1024, 2048};
        for (int left = prompt, i = 0; left > 0; i++) {
            sizes.add(Math.min(left, cycle[i % 4]));
            left -= sizes.get(sizes.size() - 1);
        }
        return sizes;
    }

    @Test
    void recoversTheCurvesOfANoiseFreeRun() {
        MeasuredChunkCosts f = MeasuredChunkCosts.fit(timeline(0, mixed(32768)), 0);
        for (int s = 0; s < 2; s++) {
            for (int k = 0; k < 4; k++) {
                assertEquals(TRUE[s][k], f.stageCoefficients()[s][k], 1e-6 * Math.abs(TRUE[s][k]) + 1e-9, "stage " + s + " c" + k);
            }
        }
        assertEquals(0, f.rmsRelativeError(), 1e-9);
        assertTrue(f.sendPerTokenMs() > 0, f.describe());
    }

    @Test
    void aSlowFirstChunkDoesNotBiasTheFit() { // left out: it is the engine's warm-up, not a chunk cost
        MeasuredChunkCosts f = MeasuredChunkCosts.fit(timeline(0, mixed(32768), 3), 0);
        for (int s = 0; s < 2; s++) {
            for (int k = 0; k < 4; k++) {
                assertEquals(TRUE[s][k], f.stageCoefficients()[s][k], 1e-6 * Math.abs(TRUE[s][k]) + 1e-9, "stage " + s + " c" + k);
            }
        }
    }

    @Test
    void theFitKeepsEveryTermNonNegativeAndIsOptimalSo() {
        // data from 1 + 2a − 0.5b + noise: the unconstrained fit has a negative term, the constrained one may not
        SplittableRandom rnd = new SplittableRandom(5);
        double[][] x = new double[40][];
        double[] y = new double[40];
        for (int i = 0; i < y.length; i++) {
            double a = rnd.nextDouble(0, 10);
            double b = rnd.nextDouble(0, 10);
            x[i] = new double[] {1, a, b, a * b};
            y[i] = 1 + 2 * a - 0.5 * b + rnd.nextDouble(-0.1, 0.1);
        }
        double[] beta = MeasuredChunkCosts.nonNegativeLeastSquares(x, y);
        // the optimality (KKT) conditions of min |Xβ − y|² with β ≥ 0: the gradient Xᵀ(Xβ − y) is 0 on every term in
        // use and ≥ 0 on every term held at 0
        for (int j = 0; j < beta.length; j++) {
            double g = 0;
            for (int i = 0; i < y.length; i++) {
                double r = -y[i];
                for (int k = 0; k < beta.length; k++) {
                    r += x[i][k] * beta[k];
                }
                g += x[i][j] * r;
            }
            assertTrue(beta[j] >= 0, "term " + j + ": " + beta[j]);
            if (beta[j] > 0) {
                assertEquals(0, g, 1e-6, "term " + j + " in use: gradient " + g);
            } else {
                assertTrue(g >= -1e-6, "term " + j + " held at 0: gradient " + g);
            }
        }
        assertEquals(0, beta[2], "b's negative effect is held at 0");
    }

    @Test
    void predictsWithinNoise() {
        MeasuredChunkCosts f = MeasuredChunkCosts.fit(timeline(0.02, mixed(32768)), 0);
        for (int s = 0; s < 2; s++) {
            for (long prefix : new long[] {0, 10000, 30000}) {
                for (int n : new int[] {300, 1000, 2000}) {
                    double truth = TRUE[s][0] + TRUE[s][1] * n + TRUE[s][2] * n * prefix + TRUE[s][3] * n * (double) n;
                    assertEquals(truth, f.latency().ms(s, prefix, n), 0.03 * truth, "stage " + s + " " + prefix + "+" + n);
                }
            }
        }
    }

    @Test
    void tooFewChunksAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> MeasuredChunkCosts.fit(timeline(0, List.of(512, 512)), 0));
        assertTrue(e.getMessage().contains("needs at least 8"), e.getMessage());
    }
}
