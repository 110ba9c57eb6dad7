package io.pipefill.model.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one collector: what it keeps, when every rank is done, and what it says is missing. */
class RunCollectorTest {
    private static final StageEvent EVENT = new StageEvent(0, 0, 0, 0, false, 0, 0, 8, 0, 0, 0, 1, 1, 2);

    @Test
    void gathersEveryKindAndOrdersResultsByRequest() {
        RunCollector c = new RunCollector(2, 2);
        c.accept(new RankReport.Loaded(0, 100, 10));
        c.accept(new RankReport.Loaded(1, 200, 20));
        c.accept(ChunkingPolicy.fixed(8));
        c.accept(new RankReport.Progress(1, 0, 1, 8, 8));
        c.accept(new RequestResult(1, new float[] {1}, new int[] {5}, 3, 4));
        c.accept(new RequestResult(0, new float[] {2}, new int[] {6}, 1, 2));
        c.accept(new RankReport.RankTimeline(0, List.of(EVENT)));
        c.accept(new RankReport.Done(0));
        assertFalse(c.allDone());
        c.accept(new RankReport.RankTimeline(1, List.of(EVENT, EVENT)));
        c.accept(new RankReport.Done(1));
        assertTrue(c.allDone());
        RunCollector.Gathered g = c.finish();
        assertEquals(List.of(0, 1), g.results().stream().map(RequestResult::request).toList());
        assertEquals(6, g.result(0).generated()[0]);
        assertEquals(Map.of(0, 100L, 1, 200L), g.weightBytesPerRank());
        assertEquals(Map.of(0, 10L, 1, 20L), g.kvBytesPerRank());
        assertEquals(3, g.events().size());
        assertEquals(8, g.chunking().base());
    }

    @Test
    void aRunWithSomethingMissingSaysWhat() {
        RunCollector noResult = new RunCollector(2, 1);
        noResult.accept(ChunkingPolicy.fixed(8));
        assertTrue(assertThrows(IllegalStateException.class, noResult::finish).getMessage()
                .contains("the result report of the last stage (rank 1) never arrived"));
        RunCollector noChunking = new RunCollector(1, 1);
        noChunking.accept(new RequestResult(0, new float[] {1}, new int[0], 1, 1));
        assertTrue(assertThrows(IllegalStateException.class, noChunking::finish).getMessage().contains("chunking"));
        noChunking.accept(ChunkingPolicy.fixed(8));
        assertTrue(assertThrows(IllegalStateException.class, noChunking::finish).getMessage().contains("0 of 1 timelines"));
    }
}
