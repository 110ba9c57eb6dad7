package io.pipefill.model.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.sim.LinkTime;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.SimulationResult;
import org.junit.jupiter.api.Test;

/** The one chunking policy: profile, fit and fallback, schedule, KV need, buffers and the simulator's window. */
class ChunkingPolicyTest {
    @Test
    void theProfileCoversAQuarterToAQuarterMoreThanTheBase() {
        assertArrayEquals(new int[] {256, 512, 768, 1024, 1280}, ChunkingPolicy.profileLengths(1024));
        assertEquals(1280, ChunkingPolicy.maxProfileLength(1024));
        assertEquals(2, ChunkingPolicy.maxProfileLength(1), "rounded up, never below the base");
        assertArrayEquals(new int[] {1, 1, 1, 1, 1}, ChunkingPolicy.profileLengths(1), "at least one token each");
    }

    @Test
    void aQuadraticProfileFitsAndDrivesDynamicChunksWhileAFlatOneFallsBackWithTheReason() {
        double[] lengths = {256, 512, 768, 1024, 1280};
        double[] quadratic = new double[5];
        double[] falling = new double[5];
        for (int i = 0; i < 5; i++) {
            quadratic[i] = 1e-5 * lengths[i] * lengths[i] + 0.01 * lengths[i] + 2;
            falling[i] = 10 - 1e-5 * lengths[i] * lengths[i];
        }
        ChunkingDecision d = ChunkingPolicy.fromProfile(1024, 0.75, lengths, quadratic, 12.5);
        assertTrue(d.dynamicUsed());
        assertEquals(12.5, d.profileWallMs());
        ChunkSchedule s = ChunkingPolicy.schedule(d, 16384);
        assertEquals(1024, s.chunks().get(0).size(), "the first chunk is the base");
        assertTrue(s.chunks().get(s.size() - 1).offset() > 0 && s.chunks().get(1).size() < 1024, "later chunks shrink");
        assertEquals(16384, s.chunks().stream().mapToInt(Chunk::size).sum());

        ChunkingDecision fallback = ChunkingPolicy.fromProfile(1024, 0.75, lengths, falling, 3);
        assertFalse(fallback.dynamicUsed());
        assertNull(fallback.fit());
        assertTrue(fallback.fallbackReason().startsWith("latency fit failed (") && fallback.fallbackReason().endsWith(
                "); fixed chunks used"), fallback.fallbackReason());
        assertEquals(ChunkSchedule.fixed(16384, 1024), ChunkingPolicy.schedule(fallback, 16384));
        assertEquals(ChunkSchedule.fixed(100, 100), ChunkingPolicy.schedule(ChunkingPolicy.fixed(1024), 100),
                "a prompt shorter than the base is one chunk");
        assertTrue(ChunkingPolicy.given(64, 0.5, new LatencyFit(1e-6, 0.01, 1)).dynamicUsed());
    }

    @Test
    void kvNeedCountsEveryGeneratedTokenButTheLastAndTheProfileOnStageZero() {
        assertEquals(1000, ChunkingPolicy.kvPositions(1000, 1));
        assertEquals(1007, ChunkingPolicy.kvPositions(1000, 8));
        assertEquals(1000, ChunkingPolicy.kvPositions(1000, 0));
        assertEquals(2560, ChunkingPolicy.kvCapacity(0, 1000, true, 2048));
        assertEquals(1000, ChunkingPolicy.kvCapacity(1, 1000, true, 2048));
        assertEquals(1000, ChunkingPolicy.kvCapacity(0, 1000, false, 2048));
    }

    /**
     * The engine's buffers and the simulator's window: a middle stage holds three buffers but one is always
     * posted for the next receive, so every sending stage may have two sends in flight, no more.
     */
    @Test
    void theSimulatorsSendWindowFollowsTheEnginesBuffers() {
        for (int stages = 1; stages <= 6; stages++) {
            for (int s = 0; s < stages; s++) {
                int buffers = ChunkingPolicy.activationBuffers(s, stages);
                assertEquals(s > 0 && s < stages - 1 ? 3 : 2, buffers);
                assertEquals(s == stages - 1 ? 0 : 2, ChunkingPolicy.sendWindow(s, stages), "stage " + s + " of " + stages);
            }
        }
        // sends five times slower than compute: the window, not the compute, paces every sending stage
        LinkTime slow = (stage, n) -> 5.0;
        ChunkSchedule chunks = ChunkSchedule.fixed(800, 100);
        SimulationResult engine = PipelineSimulator.engine(3, (s, prefix, n) -> 1.0, slow, 0).run(chunks);
        SimulationResult windowOfTwo = new PipelineSimulator(3, (s, prefix, n) -> 1.0, slow, 0, 2).run(chunks);
        SimulationResult windowOfThree = new PipelineSimulator(3, (s, prefix, n) -> 1.0, slow, 0, 3).run(chunks);
        assertEquals(windowOfTwo.ttftMs(), engine.ttftMs(), 1e-9);
        assertTrue(windowOfThree.timeline().get(2).startMs() < engine.timeline().get(2).startMs(),
                "a third send in flight would let stage 0 start chunk 2 earlier");
    }
}
