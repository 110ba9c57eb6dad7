package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LaunchGeometryTest {
    @Test
    void blocksCoverEveryItem() {
        assertEquals(1, LaunchGeometry.blocks(1, 256));
        assertEquals(1, LaunchGeometry.blocks(256, 256));
        assertEquals(2, LaunchGeometry.blocks(257, 256));
        assertEquals(1, LaunchGeometry.blocks(0, 256), "an empty launch still has a valid grid");
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.blocks(1L << 50, 32));
    }

    @Test
    void rowThreadsAreWholeWarpsUpTo1024() {
        assertEquals(32, LaunchGeometry.rowThreads(1));
        assertEquals(64, LaunchGeometry.rowThreads(64));
        assertEquals(96, LaunchGeometry.rowThreads(80));
        assertEquals(1024, LaunchGeometry.rowThreads(4096));
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.rowThreads(0));
    }

    @Test
    void attentionGridIsRowBlocksByHeads() {
        assertArrayEquals(new int[] {1, 32}, LaunchGeometry.attentionGrid(1, 32));
        assertArrayEquals(new int[] {512, 8}, LaunchGeometry.attentionGrid(2048, 8));
        assertArrayEquals(new int[] {3, 2}, LaunchGeometry.attentionGrid(9, 2));
    }

    @Test
    void constantsMatchTheKernelSource() {
        String src = KernelSources.read("attention.cu");
        assertTrue(src.contains("#define ATTN_WARPS " + LaunchGeometry.ATTENTION_WARPS), "ATTN_WARPS");
        assertTrue(src.contains("#define ATTN_MAX_HEAD_DIM " + LaunchGeometry.ATTENTION_MAX_HEAD_DIM), "ATTN_MAX_HEAD_DIM");
    }

    @Test
    void attentionLayoutIsChecked() {
        LaunchGeometry.checkAttention(32, 8, 128);
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.checkAttention(32, 8, 512));
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.checkAttention(6, 4, 64));
    }
}
