package io.pipefill.model.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.sim.LinkTime;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.StageLatency;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The optimiser against brute force (every admissible schedule of small prompts) and against the best fixed
 * chunk and the best σ rule on random cost curves.
 */
class ChunkScheduleOptimizerTest {

    /**
     * A random chunk cost with the shapes real ones have: a fixed per-chunk overhead, a linear (GEMM) term whose
     * efficiency drops for short chunks, and attention over the prefix and the chunk's own causal triangle.
     */
    private static StageLatency randomCurve(SplittableRandom rnd, int stages, boolean identical) {
        int n = identical ? 1 : stages;
        double[] over = new double[n];
        double[] lin = new double[n];
        double[] quad = new double[n];
        double[] knee = new double[n];
        for (int s = 0; s < n; s++) {
            over[s] = rnd.nextDouble(0.05, 5);
            lin[s] = rnd.nextDouble(1e-4, 5e-3);
            quad[s] = rnd.nextDouble(1e-9, 2e-7);
            knee[s] = rnd.nextDouble(16, 2048);
        }
        return (stage, prefix, size) -> {
            int s = identical ? 0 : stage;
            double gemmEff = size / (size + knee[s]); // short chunks use the GEMM units less well
            return over[s] + lin[s] * size / gemmEff + quad[s] * ((double) size * prefix + size * (size + 1.0) / 2);
        };
    }

    /** Every schedule the bounds admit, as lists of sizes. */
    private static void all(int left, ChunkScheduleOptimizer.Bounds b, List<Integer> prefix, List<List<Integer>> out) {
        if (left == 0) {
            out.add(new ArrayList<>(prefix));
            return;
        }
        if (left <= b.maxChunk()) {
            prefix.add(left); // the remainder as the last chunk
            out.add(new ArrayList<>(prefix));
            prefix.remove(prefix.size() - 1);
        }
        for (int n = b.alignment(); n < left && n <= b.maxChunk(); n += b.alignment()) {
            if (n >= b.minChunk()) {
                prefix.add(n);
                all(left - n, b, prefix, out);
                prefix.remove(prefix.size() - 1);
            }
        }
    }

    private static double bruteForce(PipelineSimulator sim, int prompt, ChunkScheduleOptimizer.Bounds b) {
        List<List<Integer>> schedules = new ArrayList<>();
        all(prompt, b, new ArrayList<>(), schedules);
        double best = Double.POSITIVE_INFINITY;
        for (List<Integer> s : schedules) {
            best = Math.min(best, sim.ttftMs(ChunkSchedule.ofSizes(s)));
        }
        return best;
    }

    @Test
    void theDynamicProgrammeIsExactForIdenticalStagesAndFreeLinks() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 60; trial++) {
            int stages = 1 + rnd.nextInt(5);
            int alignment = new int[] {1, 8, 64}[rnd.nextInt(3)];
            int units = 4 + rnd.nextInt(11);
            int prompt = units * alignment - (alignment > 1 ? rnd.nextInt(alignment) : 0);
            int min = alignment * (1 + rnd.nextInt(2));
            int max = Math.max(min, alignment * (2 + rnd.nextInt(units)));
            var b = new ChunkScheduleOptimizer.Bounds(alignment, min, max);
            PipelineSimulator sim = PipelineSimulator.engine(stages, randomCurve(rnd, stages, true), LinkTime.FREE,
                    rnd.nextDouble(0, 3));
            var opt = new ChunkScheduleOptimizer(sim).dynamicProgramme(prompt, b);
            double brute = bruteForce(sim, prompt, b);
            assertEquals(brute, opt.ttftMs(), 1e-9 * brute, "trial " + trial + ": " + stages + " stages, prompt " + prompt
                    + ", " + b + ", DP chose " + opt.schedule().describeSizes());
            assertNull(b.violation(opt.schedule()));
        }
    }

    /** A small prompt on 2–4 unequal stages with sends: small enough for brute force. */
    private record UnequalCase(PipelineSimulator sim, int prompt, ChunkScheduleOptimizer.Bounds bounds) {
        static UnequalCase random(SplittableRandom rnd, boolean randomSendLatency) {
            int stages = 2 + rnd.nextInt(3);
            int prompt = 64 * (6 + rnd.nextInt(7));
            var b = new ChunkScheduleOptimizer.Bounds(64, 64, 64 * (2 + rnd.nextInt(5)));
            double perToken = rnd.nextDouble(0, 2e-3);
            double latency = randomSendLatency ? rnd.nextDouble(0, 1) : 0.1;
            PipelineSimulator sim = PipelineSimulator.engine(stages, randomCurve(rnd, stages, false),
                    (s, n) -> latency + perToken * n, 0.5);
            return new UnequalCase(sim, prompt, b);
        }
    }

    @Test
    void withSendsAndUnequalStagesTheSearchComesCloseToBruteForce() {
        // the DP's formula is no longer exact; the simulated local search must still land near the optimum
        SplittableRandom rnd = new SplittableRandom(11);
        double worst = 0;
        for (int trial = 0; trial < 40; trial++) {
            UnequalCase c = UnequalCase.random(rnd, true);
            int prompt = c.prompt();
            var b = c.bounds();
            var opt = new ChunkScheduleOptimizer(c.sim()).optimise(prompt, b, Map.of());
            double brute = bruteForce(c.sim(), prompt, b);
            assertTrue(opt.ttftMs() >= brute * (1 - 1e-12), "nothing beats the optimum");
            worst = Math.max(worst, opt.ttftMs() / brute - 1);
        }
        assertTrue(worst < 0.02, "worst gap to brute force " + worst);
    }

    @Test
    void withUnequalStagesTheBeamSearchComesCloserToBruteForceThanTheDp() {
        // the DP prices every chunk alike wherever it stands; the beam carries each stage's finishing time
        SplittableRandom rnd = new SplittableRandom(13);
        double beamGap = 0;
        double dpGap = 0;
        double worst = 0;
        for (int trial = 0; trial < 40; trial++) {
            UnequalCase c = UnequalCase.random(rnd, false);
            int prompt = c.prompt();
            var b = c.bounds();
            var opt = new ChunkScheduleOptimizer(c.sim());
            double brute = bruteForce(c.sim(), prompt, b);
            double beam = opt.beamSearch(prompt, b).ttftMs();
            assertTrue(beam >= brute * (1 - 1e-12), "nothing beats the optimum");
            beamGap += beam / brute - 1;
            dpGap += opt.dynamicProgramme(prompt, b).ttftMs() / brute - 1;
            worst = Math.max(worst, beam / brute - 1);
        }
        assertTrue(beamGap < dpGap, "beam mean gap " + beamGap / 40 + " vs the DP's " + dpGap / 40);
        assertTrue(worst < 0.005, "worst gap of the beam to brute force " + worst);
    }

    @Test
    void neverSlowerThanTheBestFixedChunkOrTheBestSigmaRule() {
        SplittableRandom rnd = new SplittableRandom(2026);
        for (int trial = 0; trial < 24; trial++) {
            int stages = 2 + rnd.nextInt(7);
            boolean identical = trial % 2 == 0;
            StageLatency curve = randomCurve(rnd, stages, identical);
            LinkTime link = identical ? LinkTime.FREE : (s, n) -> 0.02 + 1e-5 * n;
            PipelineSimulator sim = PipelineSimulator.engine(stages, curve, link, 1);
            int prompt = 4096 + 64 * rnd.nextInt(28 * 1024 / 64);
            var b = new ChunkScheduleOptimizer.Bounds(64, 64, 16384);
            double bestFixed = Double.POSITIVE_INFINITY;
            int bestSize = 0;
            for (int size = 512; size <= 16384; size *= 2) {
                double t = sim.ttftMs(ChunkSchedule.fixed(prompt, size));
                if (t < bestFixed) {
                    bestFixed = t;
                    bestSize = size;
                }
            }
            double bestSigma = Double.POSITIVE_INFINITY;
            ChunkSchedule sigmaSchedule = null;
            for (int f = 2; f <= 4 && bestSize * f <= 16384; f++) {
                for (double sigma : Planner.SIGMAS) {
                    ChunkSchedule s = sigmaRule(curve, bestSize * f, sigma, prompt);
                    if (sim.ttftMs(s) < bestSigma) {
                        bestSigma = sim.ttftMs(s);
                        sigmaSchedule = s;
                    }
                }
            }
            var opt = new ChunkScheduleOptimizer(sim);
            // seeded as the planner seeds it: the result can only improve on where it started
            var seeds = new java.util.HashMap<String, ChunkSchedule>();
            seeds.put("fixed", ChunkSchedule.fixed(prompt, bestSize));
            if (sigmaSchedule != null) {
                seeds.put("sigma", sigmaSchedule);
            }
            var planned = opt.optimise(prompt, b, seeds);
            double reference = Math.min(bestFixed, bestSigma);
            assertTrue(planned.ttftMs() <= reference * (1 + 1e-12), "trial " + trial + ": planned " + planned.ttftMs()
                    + " vs fixed " + bestFixed + ", σ " + bestSigma);
            assertNull(b.violation(planned.schedule()), planned.schedule().describeSizes());
            assertEquals(prompt, planned.schedule().promptTokens());
            if (identical && prompt <= 64 * ChunkScheduleOptimizer.MAX_GRID_POINTS) {
                // on the alignment grid the DP alone is exact here, so no seed is needed to beat the rules
                var dp = opt.dynamicProgramme(prompt, b);
                assertTrue(dp.ttftMs() <= reference * (1 + 1e-12), "trial " + trial + ": DP " + dp.ttftMs()
                        + " vs " + reference);
            }
        }
    }

    /** The σ rule as the engine runs it: profile stage 0 at its lengths, fit, derive the chunks. */
    static ChunkSchedule sigmaRule(StageLatency curve, int base, double sigma, int prompt) {
        int[] lengths = ChunkingPolicy.profileLengths(base);
        double[] l = new double[lengths.length];
        double[] ms = new double[lengths.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = lengths[i];
            ms[i] = curve.ms(0, 0, lengths[i]);
        }
        ChunkingDecision d = ChunkingPolicy.fromProfile(base, sigma, l, ms, 0);
        return ChunkingPolicy.schedule(d, prompt);
    }

    @Test
    void rampsStartAndEndShortAndKeepTheBasesOtherBoundaries() {
        var b = new ChunkScheduleOptimizer.Bounds(64, 64, 4096);
        List<Integer> base = ChunkSchedule.fixed(32768, 4096).sizes();
        assertEquals(List.of(512, 1024, 2048, 512, 4096, 4096, 4096, 4096, 4096, 4096, 4096),
                ChunkScheduleOptimizer.rampUp(base, 512, 2, b));
        assertEquals(List.of(4096, 4096, 4096, 4096, 4096, 4096, 4096, 512, 2048, 1024, 512),
                ChunkScheduleOptimizer.rampDown(base, 512, 2, b));
        SplittableRandom rnd = new SplittableRandom(11);
        for (int trial = 0; trial < 200; trial++) { // any base, fraction and ratio: the prompt kept, aligned where it must be
            int prompt = 64 + rnd.nextInt(20000);
            List<Integer> sizes = ChunkSchedule.fixed(prompt, 64 * (1 + rnd.nextInt(32))).sizes();
            double r = 1.05 + rnd.nextDouble();
            for (List<Integer> ramp : new List[] {ChunkScheduleOptimizer.rampUp(sizes, sizes.get(0) * rnd.nextDouble(), r, b),
                    ChunkScheduleOptimizer.rampDown(sizes, sizes.get(sizes.size() - 1) * rnd.nextDouble(), r, b)}) {
                if (ramp == null) {
                    continue;
                }
                assertEquals(prompt, ramp.stream().mapToInt(Integer::intValue).sum(), "ramp of " + sizes + ": " + ramp);
                for (int i = 0; i < ramp.size() - 1; i++) {
                    assertEquals(0, ramp.get(i) % 64, "ramp of " + sizes + ": " + ramp);
                }
            }
        }
    }

    @Test
    void boundsAreCheckedWithReasons() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ChunkScheduleOptimizer.Bounds(64, 100, 120));
        assertTrue(e.getMessage().contains("no multiple of the alignment 64"), e.getMessage());
        var b = new ChunkScheduleOptimizer.Bounds(64, 64, 256);
        assertTrue(b.violation(ChunkSchedule.ofSizes(List.of(100, 64))).contains("multiples of 64"));
        assertTrue(b.violation(ChunkSchedule.ofSizes(List.of(64, 320))).contains("above the maximum 256"));
        assertNull(b.violation(ChunkSchedule.ofSizes(List.of(256, 64, 5))));
    }

    @Test
    void schedulesParseAndPrint() {
        ChunkSchedule s = ChunkSchedule.parse("8192, 7680 7168");
        assertEquals(List.of(8192, 7680, 7168), s.sizes());
        assertEquals(8192 + 7680 + 7168, s.promptTokens());
        assertEquals("8192,7680,7168", s.describeSizes());
        var e = assertThrows(IllegalArgumentException.class, () -> ChunkSchedule.parse("8192,x"));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ChunkSchedule.parse("8192,0"));
        assertThrows(IllegalArgumentException.class, () -> ChunkSchedule.parse(" "));
    }
}
