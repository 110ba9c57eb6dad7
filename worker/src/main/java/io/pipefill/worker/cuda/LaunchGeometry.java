package io.pipefill.worker.cuda;

import java.util.List;

/** Grid and block sizes for the kernels, kept in one place (and tested) so that the CUDA code stays simple. */
final class LaunchGeometry {
    /** Threads per block of the element-wise kernels. */
    public static final int ELEMENTWISE_THREADS = 256;
    /** attention.cu's ATTN_WARPS × 32; query rows per attention block = ATTN_WARPS. */
    public static final int ATTENTION_WARPS = 4;
    public static final int ATTENTION_THREADS = ATTENTION_WARPS * 32;
    /** attention.cu's ATTN_MAX_HEAD_DIM. */
    public static final int ATTENTION_MAX_HEAD_DIM = 256;

    private LaunchGeometry() {
    }

    /** Blocks of {@code threads} covering {@code n} items; fails rather than overflowing gridDim.x. */
    public static int blocks(long n, int threads) {
        if (n < 0 || threads <= 0) {
            throw new IllegalArgumentException("cannot cover " + n + " items with blocks of " + threads);
        }
        long b = Math.max(1, (n + threads - 1) / threads);
        if (b > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(n + " items need more than 2^31-1 blocks of " + threads);
        }
        return (int) b;
    }

    /**
     * Threads for a one-block-per-row reduction over {@code width} values: a multiple of 32 (block_sum in
     * common.cuh needs whole warps), at most 1024, and no more than the row needs.
     */
    static int rowThreads(int width) {
        if (width <= 0) {
            throw new IllegalArgumentException("row width must be positive, got " + width);
        }
        int t = (width + 31) / 32 * 32;
        return Math.min(1024, t);
    }

    /** flash_attention.cu's FA_BLOCK_N: keys per shared-memory tile. */
    public static final int FLASH_BLOCK_N = 64;
    /** Head dims flash_attention.cu instantiates (FLASH_ATTENTION(D, W) lines); others use attention.cu. */
    public static final List<Integer> FLASH_HEAD_DIMS = List.of(16, 32, 48, 64, 96, 128);
    /** Warps per flash block. */
    public static final int FLASH_WARPS = 4;
    /**
     * Head dims whose kernel gives each warp two 16-row m-tiles (128-row blocks): every K/V fragment read from
     * shared memory then feeds two mma's, 319 vs 227 TFLOP/s at head dim 128 on an H200 (docs/PERFORMANCE.md).
     * Other dims keep one m-tile, with Q in registers.
     */
    public static final List<Integer> FLASH_TWO_M_TILES = List.of(64, 128);

    /** Attention grid: (query-row blocks, heads). */
    static int[] attentionGrid(int rows, int heads) {
        return new int[] {blocks(rows, ATTENTION_WARPS), heads};
    }

    /**
     * The tensor-core kernel for this layout, or null where only the CUDA-core attention_prefill applies: a head
     * dim flash_attention.cu does not instantiate, or row strides that break its 16-byte copies.
     */
    static String flashKernel(int headDim, int qStride, int outStride) {
        if (!FLASH_HEAD_DIMS.contains(headDim) || qStride % 8 != 0 || outStride % 8 != 0) {
            return null;
        }
        return flashKernelName(headDim);
    }

    private static String flashKernelName(int headDim) {
        return "flash_attention_d" + headDim + "_w" + FLASH_WARPS + "_m" + flashMTiles(headDim);
    }

    /** 16-row m-tiles per warp of the flash kernel for {@code headDim}. */
    static int flashMTiles(int headDim) {
        return FLASH_TWO_M_TILES.contains(headDim) ? 2 : 1;
    }

    /** Every flash kernel KernelSources loads. */
    static List<String> flashKernels() {
        return FLASH_HEAD_DIMS.stream().map(LaunchGeometry::flashKernelName).toList();
    }

    /** Query rows per flash block. */
    static int flashBlockRows(int headDim) {
        return FLASH_WARPS * 16 * flashMTiles(headDim);
    }

    /** Dynamic shared memory of a flash block: the Q tile and double-buffered K and V tiles, rows padded by 8. */
    static int flashSharedBytes(int headDim) {
        return (flashBlockRows(headDim) + 4 * FLASH_BLOCK_N) * (headDim + 8) * 2;
    }

    /** Flash grid: (query-row blocks, heads). */
    static int[] flashGrid(int rows, int heads, int headDim) {
        return new int[] {blocks(rows, flashBlockRows(headDim)), heads};
    }

    /** flash_attention_sm90.cu: the Hopper (sm_90a) wgmma attention, head dim 128 only. */
    public static final String WGMMA_SOURCE = "flash_attention_sm90.cu";
    /** Its WG_D, WG_BLOCK_M (query rows per block: two warpgroups of 64), WG_BLOCK_N and WG_THREADS. */
    public static final int WGMMA_HEAD_DIM = 128;
    public static final int WGMMA_BLOCK_ROWS = 128;
    public static final int WGMMA_BLOCK_KEYS = 128;
    public static final int WGMMA_THREADS = 256;
    /** WG_SHARED_BYTES: the Q tile, double-buffered K and V tiles, and 1024 bytes to align to the swizzle period. */
    public static final int WGMMA_SHARED_BYTES = WGMMA_BLOCK_ROWS * WGMMA_HEAD_DIM * 2 + 4 * WGMMA_BLOCK_KEYS * WGMMA_HEAD_DIM * 2 + 1024;
    /** WG_SHARED_BYTES_OVERLAP: the same with a third V tile. */
    public static final int WGMMA_OVERLAP_SHARED_BYTES = WGMMA_SHARED_BYTES + WGMMA_BLOCK_KEYS * WGMMA_HEAD_DIM * 2;
    private static final String WGMMA_KERNEL = "flash_attention_wgmma_d128";
    private static final String WGMMA_OVERLAP_KERNEL = WGMMA_KERNEL + "_overlap";

    /**
     * The source's entry points: the kernel, its twin with the V descriptor's LBO and SBO exchanged (a diagnostic
     * for the probe), and the kernel whose softmax overlaps the previous tile's P·V.
     */
    static List<String> wgmmaKernels() {
        return List.of(WGMMA_KERNEL, WGMMA_KERNEL + "_vswap", WGMMA_OVERLAP_KERNEL);
    }

    /**
     * The wgmma kernel ({@code overlap}: the overlapped one) for this layout on a device of {@code arch}, or null
     * where it does not apply: not an sm_90 device (its cubin is sm_90a, which runs on Hopper only), another head
     * dim, or strides that break its 16-byte copies.
     */
    static String wgmmaKernel(String arch, int headDim, int qStride, int outStride, boolean overlap) {
        if (!"sm_90".equals(arch) || headDim != WGMMA_HEAD_DIM || qStride % 8 != 0 || outStride % 8 != 0) {
            return null;
        }
        return overlap ? WGMMA_OVERLAP_KERNEL : WGMMA_KERNEL;
    }

    /** Dynamic shared memory of a block of {@code kernel}, one of {@link #wgmmaKernels}. */
    static int wgmmaSharedBytes(String kernel) {
        if (!wgmmaKernels().contains(kernel)) {
            throw new IllegalArgumentException("'" + kernel + "' is not a wgmma kernel; known: " + wgmmaKernels());
        }
        return kernel.equals(WGMMA_OVERLAP_KERNEL) ? WGMMA_OVERLAP_SHARED_BYTES : WGMMA_SHARED_BYTES;
    }

    /** wgmma grid: (query-row blocks, heads). */
    static int[] wgmmaGrid(int rows, int heads) {
        return new int[] {blocks(rows, WGMMA_BLOCK_ROWS), heads};
    }

    /** Checks what attention.cu assumes about the head layout. */
    static void checkAttention(int heads, int kvHeads, int headDim) {
        if (headDim > ATTENTION_MAX_HEAD_DIM || headDim % 2 != 0) {
            throw new IllegalArgumentException("the CUDA attention kernel supports even head dims up to "
                    + ATTENTION_MAX_HEAD_DIM + ", got " + headDim);
        }
        if (kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not group evenly over " + kvHeads + " key/value heads");
        }
    }
}
