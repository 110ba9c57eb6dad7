package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
    void flashConstantsMatchItsKernelSource() {
        String src = KernelSources.read("flash_attention.cu");
        assertTrue(src.contains("#define FA_BLOCK_N " + LaunchGeometry.FLASH_BLOCK_N), "FA_BLOCK_N");
        for (int d : LaunchGeometry.FLASH_HEAD_DIMS) {
            String line = "FLASH_ATTENTION(" + d + ", " + LaunchGeometry.FLASH_WARPS + ", " + LaunchGeometry.flashMTiles(d) + ")";
            assertTrue(src.contains(line), "instantiation " + line);
        }
    }

    @Test
    void wgmmaConstantsMatchItsKernelSource() {
        String src = KernelSources.read(LaunchGeometry.WGMMA_SOURCE);
        assertTrue(src.contains("#define WG_D " + LaunchGeometry.WGMMA_HEAD_DIM), "WG_D");
        assertTrue(src.contains("#define WG_BLOCK_M " + LaunchGeometry.WGMMA_BLOCK_ROWS), "WG_BLOCK_M");
        assertTrue(src.contains("#define WG_BLOCK_N " + LaunchGeometry.WGMMA_BLOCK_KEYS), "WG_BLOCK_N");
        assertTrue(src.contains("#define WG_THREADS " + LaunchGeometry.WGMMA_THREADS), "WG_THREADS");
        assertTrue(src.contains("#define WG_SHARED_BYTES (WG_BLOCK_M * WG_D * 2 + 4 * WG_TILE_BYTES + 1024)"), "WG_SHARED_BYTES");
        assertTrue(src.contains("#define WG_TILE_BYTES (WG_BLOCK_N * WG_D * 2)"), "WG_TILE_BYTES");
        // 160 KiB of tiles + the alignment slack: within an H100/H200 block's 227 KiB opt-in
        assertEquals(164_864, LaunchGeometry.WGMMA_SHARED_BYTES);
        assertTrue(src.contains("#define WG_SHARED_BYTES_OVERLAP (WG_SHARED_BYTES + WG_TILE_BYTES)"), "WG_SHARED_BYTES_OVERLAP");
        assertEquals(197_632, LaunchGeometry.WGMMA_OVERLAP_SHARED_BYTES);
        assertEquals(List.of("flash_attention_wgmma_d128", "flash_attention_wgmma_d128_vswap", "flash_attention_wgmma_d128_overlap"),
                LaunchGeometry.wgmmaKernels());
        assertTrue(src.contains("FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128, false, false)"));
        assertTrue(src.contains("FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128_vswap, true, false)"));
        assertTrue(src.contains("FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128_overlap, false, true)"));
        assertEquals(LaunchGeometry.WGMMA_SHARED_BYTES, LaunchGeometry.wgmmaSharedBytes("flash_attention_wgmma_d128"));
        assertEquals(LaunchGeometry.WGMMA_OVERLAP_SHARED_BYTES, LaunchGeometry.wgmmaSharedBytes("flash_attention_wgmma_d128_overlap"));
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.wgmmaSharedBytes("flash_attention_d128_w4_m2"));
    }

    @Test
    void wgmmaKernelOnlyOnHopperAtHeadDim128() {
        assertEquals("flash_attention_wgmma_d128", LaunchGeometry.wgmmaKernel("sm_90", 128, 6144, 4096, false));
        assertEquals("flash_attention_wgmma_d128_overlap", LaunchGeometry.wgmmaKernel("sm_90", 128, 6144, 4096, true));
        assertEquals(null, LaunchGeometry.wgmmaKernel("sm_100", 128, 6144, 4096, false), "sm_90a cubins run on Hopper only");
        assertEquals(null, LaunchGeometry.wgmmaKernel("sm_80", 128, 6144, 4096, true));
        assertEquals(null, LaunchGeometry.wgmmaKernel("sm_90", 64, 3072, 2048, false), "head dim 128 only");
        assertEquals(null, LaunchGeometry.wgmmaKernel("sm_90", 128, 6148, 4096, false), "q rows not 16-byte aligned");
        assertArrayEquals(new int[] {64, 32}, LaunchGeometry.wgmmaGrid(8192, 32));
        assertArrayEquals(new int[] {3, 8}, LaunchGeometry.wgmmaGrid(300, 8));
    }

    @Test
    void flashKernelOnlyWhereItsLayoutFits() {
        assertEquals("flash_attention_d128_w4_m2", LaunchGeometry.flashKernel(128, 6144, 4096));
        assertEquals("flash_attention_d32_w4_m1", LaunchGeometry.flashKernel(32, 256, 128));
        assertEquals(null, LaunchGeometry.flashKernel(256, 8192, 4096), "head dim 256 is not instantiated");
        assertEquals(null, LaunchGeometry.flashKernel(40, 200, 160), "head dim not a multiple of 16");
        assertEquals(null, LaunchGeometry.flashKernel(64, 196, 128), "q rows not 16-byte aligned");
        assertEquals(128, LaunchGeometry.flashBlockRows(128));
        assertEquals(64, LaunchGeometry.flashBlockRows(32));
        assertArrayEquals(new int[] {2, 32}, LaunchGeometry.flashGrid(129, 32, 128));
        assertArrayEquals(new int[] {3, 4}, LaunchGeometry.flashGrid(129, 4, 32));
        // Q tile + 2 K tiles + 2 V tiles, rows of 128 + 8 BF16 values: two such blocks fit a Hopper SM (228 KiB)
        assertEquals((128 + 4 * 64) * 136 * 2, LaunchGeometry.flashSharedBytes(128));
        assertTrue(2 * LaunchGeometry.flashSharedBytes(128) <= 227 * 1024);
    }

    @Test
    void attentionLayoutIsChecked() {
        LaunchGeometry.checkAttention(32, 8, 128);
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.checkAttention(32, 8, 512));
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.checkAttention(6, 4, 64));
    }
}
