package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkScheduleTest {
    @Test
    void fixedChunksTakeTheRemainderLast() {
        ChunkSchedule s = ChunkSchedule.fixed(10, 4);
        assertEquals(List.of(new Chunk(0, 0, 4), new Chunk(1, 4, 4), new Chunk(2, 8, 2)), s.chunks());
        assertEquals(4, s.maxChunkSize());
        assertEquals(1, ChunkSchedule.fixed(3, 100).size());
        assertEquals(8, ChunkSchedule.fixed(8, 1).size());
    }

    @Test
    void rejectsBadSizesAndGaps() {
        assertThrows(IllegalArgumentException.class, () -> ChunkSchedule.fixed(0, 4));
        assertThrows(IllegalArgumentException.class, () -> ChunkSchedule.fixed(4, 0));
        assertThrows(IllegalArgumentException.class, () -> new ChunkSchedule(5, List.of(new Chunk(0, 0, 2), new Chunk(1, 3, 2))));
        assertThrows(IllegalArgumentException.class, () -> new ChunkSchedule(5, List.of(new Chunk(0, 0, 4))));
    }
}
