package io.pipefill.model.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Utilisation and bubble from stage events, worked by hand on a two-stage, two-chunk run. */
class TimelineTest {
    private static StageEvent event(int stage, int tpRank, int chunk, int size, double start, double computeStart,
                                    double computeMs) {
        return new StageEvent(0, stage, stage, tpRank, false, chunk, chunk * size, size, start, computeStart - start,
                computeStart, computeMs, computeStart + computeMs, computeStart + computeMs + 1);
    }

    @Test
    void utilisationIsComputeOverTheSpanAndBubbleIsItsComplement() {
        // stage 0 computes [0, 10) and [10, 20); stage 1 computes [11, 21) and [21, 31): span 31 ms
        List<StageEvent> events = List.of(event(0, 0, 0, 64, 0, 0, 10), event(0, 0, 1, 32, 10, 10, 10),
                event(1, 0, 0, 64, 0, 11, 10), event(1, 0, 1, 32, 20, 21, 10),
                // another TP rank and a decode step do not count
                event(1, 1, 0, 64, 0, 11, 99),
                new StageEvent(0, 1, 1, 0, true, 0, 96, 1, 31, 0, 31, 5, -1, -1));
        Timeline t = new Timeline(2, events);
        assertArrayEquals(new double[] {20 / 31.0, 20 / 31.0}, t.stageUtilization(0), 1e-12);
        assertEquals(1 - 20 / 31.0, t.bubbleRatio(0), 1e-12);
        assertEquals(List.of(64, 32), t.chunkSizes(0));
        assertEquals(4, t.prefill(0).size());
    }

    @Test
    void anEmptySpanGivesNoUtilisation() {
        assertArrayEquals(new double[] {0, 0}, Timeline.busyShare(new double[] {1, 2}, 0));
        assertEquals(1.0, Timeline.bubble(new double[] {0, 0}));
    }
}
