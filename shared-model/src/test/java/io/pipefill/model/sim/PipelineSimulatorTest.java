package io.pipefill.model.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.DynamicChunking;
import io.pipefill.model.LatencyFit;
import org.junit.jupiter.api.Test;

/** Closed forms of the pipeline, exact to 1e-9. */
class PipelineSimulatorTest {
    private static final double EPS = 1e-9;

    @Test
    void equalChunksFollowTheTextbookPipeline() {
        double t = 2.5;
        for (int p : new int[] {1, 2, 3, 4, 7}) {
            for (int m : new int[] {1, 2, 5, 16, 64}) {
                SimulationResult r = new PipelineSimulator(p, (s, prefix, n) -> t, LinkTime.FREE)
                        .run(ChunkSchedule.fixed(m * 100, 100));
                assertEquals((m + p - 1) * t, r.ttftMs(), EPS, "makespan P=" + p + " M=" + m);
                assertEquals((p - 1.0) / (p - 1 + m), r.bubbleRatio(), EPS, "bubble P=" + p + " M=" + m);
                for (double u : r.stageUtilization()) {
                    assertEquals(m / (double) (m + p - 1), u, EPS);
                }
                assertEquals(m * 100 / ((m + p - 1) * t / 1000), r.prefillTokensPerSecond(), 1e-6);
            }
        }
    }

    @Test
    void engineBuffersDoNotChangeTheFreeNetworkCase() {
        SimulationResult r = PipelineSimulator.engine(4, (s, prefix, n) -> 3, LinkTime.FREE, 0).run(ChunkSchedule.fixed(1000, 100));
        assertEquals((10 + 4 - 1) * 3, r.ttftMs(), EPS);
    }

    @Test
    void oneStageIsTheSumOfChunkTimes() {
        StageLatency growing = (s, prefix, n) -> 1 + 1e-3 * prefix + 0.01 * n; // cost grows with the prefix
        ChunkSchedule sched = ChunkSchedule.fixed(10_000, 768);
        double sum = 0;
        for (var c : sched.chunks()) {
            sum += growing.ms(0, c.offset(), c.size());
        }
        SimulationResult r = new PipelineSimulator(1, growing, LinkTime.FREE).run(sched);
        assertEquals(sum, r.ttftMs(), EPS);
        assertEquals(0, r.bubbleRatio(), EPS);
    }

    @Test
    void sendsOverlapTheNextComputeWhenTheLinkKeepsUp() {
        // send d ≤ compute t: each boundary adds d once; the link never throttles: (P−1)(t+d) + M·t
        double t = 4;
        double d = 1.5;
        for (int p : new int[] {2, 3, 5}) {
            int m = 12;
            SimulationResult r = new PipelineSimulator(p, (s, prefix, n) -> t, LinkTime.constant(d))
                    .run(ChunkSchedule.fixed(m * 64, 64));
            assertEquals((p - 1) * (t + d) + m * t, r.ttftMs(), EPS, "P=" + p);
            double busy = m * t;
            assertEquals(1 - busy / r.ttftMs(), r.bubbleRatio(), EPS);
        }
    }

    @Test
    void aSlowLinkThrottlesTheWholePipeline() {
        // d > t: sends queue on the FIFO link, one chunk per d reaches stage 1: t + M·d + t
        double t = 1;
        double d = 3;
        int m = 10;
        SimulationResult r = new PipelineSimulator(2, (s, prefix, n) -> t, LinkTime.constant(d))
                .run(ChunkSchedule.fixed(m * 8, 8));
        assertEquals(t + m * d + t, r.ttftMs(), EPS);
        // the timeline shows the queue: chunk c's send starts when chunk c−1's send ends
        var sends = r.stage(0);
        for (int c = 1; c < m; c++) {
            assertEquals(sends.get(c - 1).sendEndMs(), sends.get(c).sendStartMs(), EPS);
            assertTrue(sends.get(c).sendStartMs() >= sends.get(c).endMs());
        }
    }

    @Test
    void aSendBufferIsReusedOnlyAfterItsSendCompletes() {
        // hand-computed, P = 2, M = 3, t = 1, d = 3: one buffer → 13 ms, unlimited → 11 ms
        ChunkSchedule s = ChunkSchedule.fixed(3, 1);
        SimulationResult one = new PipelineSimulator(2, (st, prefix, n) -> 1, LinkTime.constant(3), 0, 1).run(s);
        SimulationResult many = new PipelineSimulator(2, (st, prefix, n) -> 1, LinkTime.constant(3), 0, 0).run(s);
        assertEquals(13, one.ttftMs(), EPS);
        assertEquals(11, many.ttftMs(), EPS);
        assertEquals(4, one.stage(0).get(1).startMs(), EPS, "chunk 1 waits for chunk 0's send");
    }

    @Test
    void theHeadRunsAfterTheLastChunkAndCountsAsWork() {
        SimulationResult r = new PipelineSimulator(2, (s, prefix, n) -> 2, LinkTime.FREE, 0.5, 0)
                .run(ChunkSchedule.fixed(400, 100));
        assertEquals(5 * 2 + 0.5, r.ttftMs(), EPS);
        assertEquals((8 + 0.5) / 10.5, r.stageUtilization()[1], EPS);
    }

    @Test
    void receivesBlockUntilTheDataArrives() {
        // stage 1 is faster than stage 0: it waits for every chunk
        SimulationResult r = new PipelineSimulator(2, (s, prefix, n) -> s == 0 ? 5 : 1, LinkTime.constant(0.25))
                .run(ChunkSchedule.fixed(4, 1));
        for (StageStep st : r.stage(1)) {
            assertEquals(st.readyMs(), st.startMs(), EPS);
            assertEquals(5 * (st.chunk() + 1) + 0.25, st.startMs(), EPS);
        }
        assertEquals(20 + 0.25 + 1, r.ttftMs(), EPS);
    }

    @Test
    void dynamicChunksBeatFixedOnesWhenCostsGrowWithThePrefix() {
        // stages that all cost f(L + n) − f(L): a proportionate flow shop, makespan = Σ t_c + (P − 1)·max t_c
        LatencyFit fit = new LatencyFit(2e-7, 0.01, 0);
        StageLatency f = (s, prefix, n) -> fit.at(prefix + n) - fit.at(prefix);
        int prompt = 65536;
        int p = 4;
        ChunkSchedule fixed = ChunkSchedule.fixed(prompt, 4096);
        ChunkSchedule dynamic = new DynamicChunking(4096, 1.0, fit, prompt, 64).schedule(prompt);
        double[] makespan = new double[2];
        int i = 0;
        for (ChunkSchedule sched : new ChunkSchedule[] {fixed, dynamic}) {
            double sum = 0;
            double max = 0;
            for (var c : sched.chunks()) {
                double t = f.ms(0, c.offset(), c.size());
                sum += t;
                max = Math.max(max, t);
            }
            SimulationResult r = new PipelineSimulator(p, f, LinkTime.FREE).run(sched);
            assertEquals(sum + (p - 1) * max, r.ttftMs(), 1e-9);
            makespan[i++] = r.ttftMs();
        }
        assertTrue(makespan[1] < makespan[0], "dynamic " + makespan[1] + " vs fixed " + makespan[0]);
    }

    @Test
    void badInputIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new PipelineSimulator(0, (s, p, n) -> 1, LinkTime.FREE));
        assertThrows(IllegalArgumentException.class, () -> new PipelineSimulator(2, (s, p, n) -> 1, LinkTime.FREE, -1, 0));
        var e = assertThrows(IllegalArgumentException.class, () -> new PipelineSimulator(2, (s, p, n) -> -1, LinkTime.FREE)
                .run(ChunkSchedule.fixed(10, 5)));
        assertTrue(e.getMessage().contains("chunk 0 on stage 0"), e.getMessage());
    }
}
