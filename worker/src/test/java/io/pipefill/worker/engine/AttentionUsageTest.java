package io.pipefill.worker.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bookkeeping of which attention ran: chunk and token counts per implementation, fallbacks with their reasons,
 * its bound. The stages call it as CudaStage does when cuDNN refuses a shape (no GPU needed for the bookkeeping).
 */
class AttentionUsageTest {
    private static final int LAYERS = 4;

    /** One chunk through {@code LAYERS} layers, each on {@code impl}. */
    private static void chunk(AttentionUsage u, int position, int rows, String impl, String why) {
        u.beginChunk(position, rows);
        try {
            for (int l = 0; l < LAYERS; l++) {
                u.layer(impl, why);
            }
        } finally {
            u.endChunk();
        }
    }

    @Test
    void cudnnRefusingLaterChunksIsAFallbackToFlashWithItsReasonAndFirstPosition() {
        AttentionUsage u = new AttentionUsage("cudnn");
        chunk(u, 0, 8192, "cudnn", null);
        chunk(u, 8192, 8192, "flash", "cuDNN: no engine for rows 8192, kvLen 16384");
        chunk(u, 16384, 8192, "flash", "cuDNN: no engine for rows 8192, kvLen 16384");
        chunk(u, 24576, 100, "flash", "cuDNN: no engine for rows 100, kvLen 24676");
        AttentionUsage.Report r = u.report();
        assertEquals("cudnn", r.requested());
        assertEquals(List.of("cudnn", "flash"), List.copyOf(r.used().keySet()), "in order of first use");
        assertEquals(new AttentionUsage.Use(1, 8192, LAYERS), r.used().get("cudnn"));
        assertEquals(new AttentionUsage.Use(3, 8192 * 2 + 100, 3 * LAYERS), r.used().get("flash"));
        assertTrue(r.fellBack());
        assertEquals(List.of(
                new AttentionUsage.Fallback("flash", "cuDNN: no engine for rows 8192, kvLen 16384", 2, 8192),
                new AttentionUsage.Fallback("flash", "cuDNN: no engine for rows 100, kvLen 24676", 1, 24576)), r.fallbacks());
        assertEquals(0, r.fallbackChunksNotListed());
    }

    @Test
    void theRequestedImplementationEverywhereIsNoFallbackWhateverReasonIsPassed() {
        AttentionUsage u = new AttentionUsage("flash");
        chunk(u, 0, 30, "flash", "ignored: this is the requested one");
        chunk(u, 30, 1, "flash", null);
        AttentionUsage.Report r = u.report();
        assertFalse(r.fellBack());
        assertEquals(List.of(), r.fallbacks());
        assertEquals(new AttentionUsage.Use(2, 31, 2 * LAYERS), r.used().get("flash"));
    }

    @Test
    void aChunkWhoseLayersRanOnTwoImplementationsCountsTowardBoth() {
        AttentionUsage u = new AttentionUsage("cudnn");
        u.beginChunk(0, 64);
        u.layer("cudnn", null);
        u.layer("flash", "");
        u.endChunk();
        AttentionUsage.Report r = u.report();
        assertEquals(new AttentionUsage.Use(1, 64, 1), r.used().get("cudnn"));
        assertEquals(new AttentionUsage.Use(1, 64, 1), r.used().get("flash"));
        assertEquals(List.of(new AttentionUsage.Fallback("flash", "no reason recorded", 1, 0)), r.fallbacks());
    }

    @Test
    void distinctFallbacksPastTheBoundAreCountedNotListed() {
        AttentionUsage u = new AttentionUsage("wgmma");
        int extra = 3;
        for (int i = 0; i < AttentionUsage.MAX_LISTED + extra; i++) {
            chunk(u, i * 10, 10, "flash", "reason " + i);
        }
        chunk(u, 1000, 10, "flash", "reason 0");  // a listed one keeps counting
        AttentionUsage.Report r = u.report();
        assertEquals(AttentionUsage.MAX_LISTED, r.fallbacks().size());
        assertEquals(2, r.fallbacks().get(0).chunks());
        assertEquals(extra, r.fallbackChunksNotListed());
        assertTrue(r.fellBack());
        assertEquals(AttentionUsage.MAX_LISTED + extra + 1, r.used().get("flash").chunks());
    }

    @Test
    void aChunkThatFailsMidwayCountsTheLayersThatRan() {
        AttentionUsage u = new AttentionUsage("cuda-cores");
        u.beginChunk(0, 5);
        u.layer("cuda-cores", null);
        u.endChunk();
        u.endChunk();  // nothing open: a no-op, as in a stage's finally after a failure before the first layer
        assertEquals(new AttentionUsage.Use(1, 5, 1), u.report().used().get("cuda-cores"));
        u.beginChunk(5, 5);
        u.layer("cuda-cores", null);
        u.beginChunk(10, 5);  // the unclosed chunk is closed first, not lost
        u.layer("cuda-cores", null);
        u.endChunk();
        assertEquals(new AttentionUsage.Use(3, 15, 3), u.report().used().get("cuda-cores"));
    }

    @Test
    void misuseIsRefusedNamingWhatWasWrong() {
        AttentionUsage u = new AttentionUsage("flash");
        IllegalStateException outside = assertThrows(IllegalStateException.class, () -> u.layer("flash", null));
        assertTrue(outside.getMessage().contains("outside a chunk"), outside.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> u.beginChunk(-1, 4)).getMessage().contains("position -1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> u.beginChunk(0, 0)).getMessage().contains("rows 0"));
        assertThrows(IllegalArgumentException.class, () -> new AttentionUsage(" "));
        assertThrows(NullPointerException.class, () -> new AttentionUsage(null));
    }
}
