#include "common.cuh"

// Causal attention of a chunk of queries against the KV cache on Hopper's warpgroup tensor cores (wgmma,
// sm_90a only), head dim 128. Same semantics, arguments and layouts as flash_attention.cu (see there): q rows of
// qStride values, head h at column h * 128; caches [kvHeads][capacity][128]; bottom-right causal mask (row r
// at absolute position pos0 + r sees keys 0..pos0 + r); GQA h -> h / (heads / kvHeads); out rows of outStride.
//
// Why: flash_attention.cu's mma.sync reads every operand fragment through registers (ldmatrix), which bounds it
// near FA2's speed (319 TFLOP/s on an H200); wgmma reads both operands of Q·Kᵀ and the V operand of P·V
// straight from shared memory and runs asynchronously, the instruction FA3 and cuDNN build on (600+).
//
// Structure (FA2's, on wgmma; no TMA, no warp specialisation): a block of 256 threads = two warpgroups of 64
// query rows each (BM 128); 128-key tiles of K and V stream through shared memory with cp.async, double
// buffered. Per tile each warpgroup issues S = Q·Kᵀ as 8 wgmma m64n128k16 (both operands in shared memory),
// takes the online softmax in registers, and issues O += P·V as 8 wgmma m64n128k16 with P from registers
// (the S accumulator layout is the register A layout, as with mma.sync) and V from shared memory read
// transposed (N-major: V rows are keys, contiguous along the head dim). The _overlap kernel issues tile t's
// Q·Kᵀ together with tile t-1's P·V, so that the softmax runs while the tensor cores work (FA3's intra-warpgroup
// overlap; a third V buffer).
//
// Shared-memory tiles are [rows][128] BF16 stored as two column halves of 64 (128 bytes per row each), each half
// in the 128-byte swizzle wgmma's descriptors name: the 16-byte piece c of row r sits at piece c ^ (r % 8), and
// every half starts on a 1024-byte boundary (the swizzle pattern's period), so descriptors need no base offset.
//   Q, K (K-major operands): 8-row groups 1024 bytes apart (SBO); a 16-wide k step is +32 bytes in a half.
//   V (N-major B operand): 8-key groups 1024 bytes apart along K (SBO), the two 64-wide halves of the head dim
//   BN * 128 bytes apart along N (LBO); a 16-key step is +2048 bytes.
// VSWAP exchanges that LBO and SBO: a diagnostic twin for the first GPU run (attention_probe.py), because the
// N-major LBO/SBO roles are the part of the PTX description most often read the other way round.
//
// Grid: (ceil(rows / 128), heads); block 256 threads; dynamic shared memory WG_SHARED_BYTES, or
// WG_SHARED_BYTES_OVERLAP for _overlap (LaunchGeometry.wgmmaSharedBytes). Requires qStride and outStride multiples
// of 8 and 16-byte aligned bases.

#define WG_D 128
#define WG_BLOCK_M 128
#define WG_BLOCK_N 128
#define WG_THREADS 256
#define WG_TILE_BYTES (WG_BLOCK_N * WG_D * 2)  // one K or V tile, 32 KiB
// Q + 2 K + 2 V tiles, and 1024 bytes to align the dynamic shared memory to the swizzle period
#define WG_SHARED_BYTES (WG_BLOCK_M * WG_D * 2 + 4 * WG_TILE_BYTES + 1024)
// the same with a third V buffer, for the overlapped kernel
#define WG_SHARED_BYTES_OVERLAP (WG_SHARED_BYTES + WG_TILE_BYTES)

// Byte offset of 16-byte piece `piece` (0..15 along the 128 columns) of row `row` in a swizzled [rows][128] tile.
__device__ __forceinline__ unsigned sw128_offset(int rows, int row, int piece) {
    return (unsigned) ((piece >> 3) * rows * 128 + row * 128 + (((piece & 7) ^ (row & 7)) << 4));
}

// wgmma shared-memory matrix descriptor: start address, leading and stride byte offsets (all >> 4), 128-byte
// swizzle (mode 1 in bits 62-63), base offset 0.
__device__ __forceinline__ unsigned long long sw128_desc(unsigned addr, unsigned lbo, unsigned sbo) {
    return (unsigned long long) ((addr & 0x3FFFF) >> 4) | ((unsigned long long) ((lbo & 0x3FFFF) >> 4) << 16)
           | ((unsigned long long) ((sbo & 0x3FFFF) >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void wgmma_wait_all() {
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

// Shared memory written by this thread's generic-proxy stores (cp.async included) becomes visible to the async
// proxy wgmma reads through; a barrier after it makes everyone's writes visible.
__device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// The A fragments in registers: their rewriting (the next tile's P) must stay after the wait that retires the
// wgmma reading them, which only this fake use tells the compiler.
__device__ __forceinline__ void fence_registers(unsigned (&a)[WG_BLOCK_N / 16][4]) {
#pragma unroll
    for (int i = 0; i < WG_BLOCK_N / 16; i++) {
        asm volatile("" : "+r"(a[i][0]), "+r"(a[i][1]), "+r"(a[i][2]), "+r"(a[i][3])::"memory");
    }
}

// Ties the accumulators to the point after wgmma_wait_all: without it the compiler, which sees the wgmma asm as
// having produced them already, could move their readers above the wait.
__device__ __forceinline__ void fence_registers(float (&d)[64]) {
#pragma unroll
    for (int i = 0; i < 64; i++) {
        asm volatile("" : "+f"(d[i])::"memory");
    }
}

#define WG_ACC8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
                   "+f"(d[i + 6]), "+f"(d[i + 7])
#define WG_ACC64 WG_ACC8(0), WG_ACC8(8), WG_ACC8(16), WG_ACC8(24), WG_ACC8(32), WG_ACC8(40), WG_ACC8(48), WG_ACC8(56)
#define WG_D64                                                                                                  \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "  \
    "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// d (64x128 FP32, per thread 64 values) += A·B, A 64x16 and B 16x128 both K-major in shared memory.
__device__ __forceinline__ void wgmma_ss(float (&d)[64], unsigned long long descA, unsigned long long descB) {
    asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_D64 ", %64, %65, 1, 1, 1, 0, 0;\n"
                 : WG_ACC64
                 : "l"(descA), "l"(descB));
}

#define WG_OUT8(i) "=f"(d[i]), "=f"(d[i + 1]), "=f"(d[i + 2]), "=f"(d[i + 3]), "=f"(d[i + 4]), "=f"(d[i + 5]), \
                   "=f"(d[i + 6]), "=f"(d[i + 7])
#define WG_OUT64 WG_OUT8(0), WG_OUT8(8), WG_OUT8(16), WG_OUT8(24), WG_OUT8(32), WG_OUT8(40), WG_OUT8(48), WG_OUT8(56)

// d = A·B (scale-d 0): d is only written, so whatever last wrote it (the softmax) is no input of the wgmma, which
// would make ptxas serialise the overlapped kernel's pipeline.
__device__ __forceinline__ void wgmma_ss_first(float (&d)[64], unsigned long long descA, unsigned long long descB) {
    asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_D64 ", %64, %65, 0, 1, 1, 0, 0;\n"
                 : WG_OUT64
                 : "l"(descA), "l"(descB));
}

// d += A·B, A 64x16 from registers (the mma.sync A fragment per warp), B 16x128 N-major in shared memory.
__device__ __forceinline__ void wgmma_rs(float (&d)[64], const unsigned (&a)[4], unsigned long long descB) {
    asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_D64 ", {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
                 : WG_ACC64
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB));
}

// One warpgroup's S = Q·Kᵀ for a 128-key tile: the head dim in 8 steps of 16, steps 0-3 in the first column half
// of Q and K, 4-7 in the second; issued, not waited for.
__device__ __forceinline__ void issue_scores(float (&s)[64], unsigned qWarpgroup, unsigned kTile) {
#pragma unroll
    for (int kk = 0; kk < WG_D / 16; kk++) {
        const unsigned at = (kk >> 2) * WG_BLOCK_N * 128 + (kk & 3) * 32;
        const unsigned qAt = (kk >> 2) * WG_BLOCK_M * 128 + (kk & 3) * 32;
        const unsigned long long da = sw128_desc(qWarpgroup + qAt, 16, 1024);
        const unsigned long long db = sw128_desc(kTile + at, 16, 1024);
        if (kk == 0) {
            wgmma_ss_first(s, da, db);
        } else {
            wgmma_ss(s, da, db);
        }
    }
}

// One warpgroup's O += P·V over a 128-key tile in 8 steps of 16 keys (2048 bytes of V each); issued, not waited for.
__device__ __forceinline__ void issue_pv(float (&o)[64], const unsigned (&p)[WG_BLOCK_N / 16][4], unsigned vTile,
                                         unsigned lbo, unsigned sbo) {
#pragma unroll
    for (int kk = 0; kk < WG_BLOCK_N / 16; kk++) {
        wgmma_rs(o, p[kk], sw128_desc(vTile + kk * 16 * 128, lbo, sbo));
    }
}

// VSWAP: see the header. OVERLAP: FA3's intra-warpgroup overlap. Tile t's S = Q·Kᵀ and tile t-1's O += P·V are
// issued together; the softmax of tile t runs while P·V is still on the tensor cores, and O is rescaled once P·V
// is done. V tile t-1 is then read while tiles t and t+1 are resident or arriving, hence three V buffers
// (WG_SHARED_BYTES_OVERLAP). Without OVERLAP every tile is S, wait, softmax, P·V, wait.
template <bool VSWAP, bool OVERLAP>
__device__ __forceinline__ void flash_attention_wgmma(const bf16* __restrict__ q, const bf16* __restrict__ kCache,
                                                      const bf16* __restrict__ vCache, bf16* __restrict__ out,
                                                      int rows, int pos0, int heads, int kvHeads, int capacity,
                                                      int qStride, int outStride, float scaleLog2) {
    constexpr int D = WG_D;
    constexpr int BM = WG_BLOCK_M;
    constexpr int BN = WG_BLOCK_N;
    constexpr int PIECES = D / 8;  // 16-byte pieces per row
    constexpr int V_BUFFERS = OVERLAP ? 3 : 2;
    const float NEG_INF = __int_as_float(0xff800000);

    extern __shared__ __align__(16) unsigned char smemRaw[];
    const unsigned smem0 = (smem_addr(smemRaw) + 1023u) & ~1023u;
    const unsigned qs = smem0;                          // [BM][128], two halves
    const unsigned ks = qs + BM * D * 2;                // [2][BN][128]
    const unsigned vs = ks + 2 * WG_TILE_BYTES;         // [V_BUFFERS][BN][128]

    const int tid = threadIdx.x;
    const int wg = tid >> 7;             // warpgroup: query rows [64 wg, 64 wg + 64) of the block
    const int warp = (tid >> 5) & 3;     // warp in the warpgroup: its rows 16 warp .. + 15
    const int lane = tid & 31;
    const int g = lane >> 2;             // fragment row (and row + 8)
    const int quad = lane & 3;           // fragment column pair
    // causal blocks differ in work: the latest rows see the most keys, so they are scheduled first
    const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
    const int h = blockIdx.y;
    const int kh = h / (heads / kvHeads);
    const int kvEnd = min(pos0 + m0 + BM, pos0 + rows);  // keys [0, kvEnd) are visible to some row here
    const int tiles = (kvEnd + BN - 1) / BN;
    const bf16* kBase = kCache + (long long) kh * capacity * D;
    const bf16* vBase = vCache + (long long) kh * capacity * D;
    const int row0 = wg * 64 + warp * 16;  // this warp's first row in the block
    const unsigned qWarpgroup = qs + wg * 64 * 128;  // its 64 rows in each column half

    for (int i = tid; i < BM * PIECES; i += WG_THREADS) {
        int r = i / PIECES;
        int c = i % PIECES;
        bool ok = m0 + r < rows;
        cp_async16_to(qs + sw128_offset(BM, r, c), q + (long long) (ok ? m0 + r : 0) * qStride + (long long) h * D + c * 8, ok);
    }
    auto loadKv = [&](int t) {
        int k0 = t * BN;
        const unsigned kAt = ks + (t & 1) * WG_TILE_BYTES;
        const unsigned vAt = vs + (t % V_BUFFERS) * WG_TILE_BYTES;
        for (int i = tid; i < BN * PIECES; i += WG_THREADS) {
            int r = i / PIECES;
            int c = i % PIECES;
            bool ok = k0 + r < kvEnd;
            long long off = (long long) (ok ? k0 + r : 0) * D + c * 8;
            unsigned at = sw128_offset(BN, r, c);
            cp_async16_to(kAt + at, kBase + off, ok);
            cp_async16_to(vAt + at, vBase + off, ok);
        }
    };
    auto kTile = [&](int t) { return ks + (t & 1) * WG_TILE_BYTES; };
    auto vTile = [&](int t) { return vs + (t % V_BUFFERS) * WG_TILE_BYTES; };
    loadKv(0);
    cp_async_commit();

    float s[64];
    float o[64];
    unsigned p[BN / 16][4];
#pragma unroll
    for (int i = 0; i < 64; i++) {
        s[i] = 0.0f;
        o[i] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        p[kk][0] = p[kk][1] = p[kk][2] = p[kk][3] = 0u;
    }
    float maxA = NEG_INF, maxB = NEG_INF;  // rows g and g + 8 of this warp
    float sumA = 0.0f, sumB = 0.0f;        // this thread's share; the quad's shares are added at the end
    const int posA = pos0 + m0 + row0 + g;  // absolute positions of the two rows
    const int posB = posA + 8;
    const unsigned vLbo = VSWAP ? 1024u : (unsigned) WG_TILE_BYTES / 2;
    const unsigned vSbo = VSWAP ? (unsigned) WG_TILE_BYTES / 2 : 1024u;

    for (int t = 0; t < tiles; t++) {
        if (t + 1 < tiles) {
            // K tile t-1 and V tile t+1-V_BUFFERS are free: the barrier that ended the last iteration saw them used
            loadKv(t + 1);
        }
        cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning "tile t is here"
        cp_async_wait_one();
        fence_proxy_async();
        __syncthreads();

        wgmma_fence();
        issue_scores(s, qWarpgroup, kTile(t));
        wgmma_commit();
        if (OVERLAP) {
            // P and V of tile t-1, under the softmax below. On the first tile P is 0 and V tile 0 stands in (finite
            // values: unfilled keys were zero-filled), so every iteration is the same straight line: a branch here
            // would make ptxas assume the P rewrite below may race the wgmma, and serialise them.
            wgmma_fence();
            issue_pv(o, p, vTile(t > 0 ? t - 1 : 0), vLbo, vSbo);
            wgmma_commit();
            asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");  // the scores are done, P·V may run on
        } else {
            wgmma_wait_all();
        }
        fence_registers(s);

        // scale into the exp2 domain; mask only the tiles that reach past this warp's first row.
        // s[4j + e]: key k0 + 8j + 2 quad + (e & 1) of row g (e < 2) or g + 8 (e >= 2)
        const int k0 = t * BN;
        const bool masked = k0 + BN - 1 > pos0 + m0 + row0;
        float mA = maxA;
        float mB = maxB;
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float v = s[4 * j + e] * scaleLog2;
                if (masked && k0 + j * 8 + 2 * quad + (e & 1) > (e < 2 ? posA : posB)) {
                    v = NEG_INF;
                }
                s[4 * j + e] = v;
            }
            mA = fmaxf(mA, fmaxf(s[4 * j], s[4 * j + 1]));
            mB = fmaxf(mB, fmaxf(s[4 * j + 2], s[4 * j + 3]));
        }
        mA = quad_max(mA);
        mB = quad_max(mB);
        // key 0 is visible to every row, so the maxima are finite from the first tile on
        const float alphaA = fast_exp2(maxA - mA);  // 0 on the first tile
        const float alphaB = fast_exp2(maxB - mB);
        maxA = mA;
        maxB = mB;
        sumA *= alphaA;
        sumB *= alphaB;
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            s[4 * j] = fast_exp2(s[4 * j] - mA);
            s[4 * j + 1] = fast_exp2(s[4 * j + 1] - mA);
            s[4 * j + 2] = fast_exp2(s[4 * j + 2] - mB);
            s[4 * j + 3] = fast_exp2(s[4 * j + 3] - mB);
            sumA += s[4 * j] + s[4 * j + 1];
            sumB += s[4 * j + 2] + s[4 * j + 3];
        }
        if (OVERLAP) {
            wgmma_wait_all();  // P·V of tile t-1 is in o, and p is free
            fence_registers(o);
            fence_registers(p);
        }
        // o holds the rows' output up to tile t-1: rescale it to this tile's maxima
#pragma unroll
        for (int j = 0; j < D / 8; j++) {
            o[4 * j] *= alphaA;
            o[4 * j + 1] *= alphaA;
            o[4 * j + 2] *= alphaB;
            o[4 * j + 3] *= alphaB;
        }
        // the accumulators of key columns 16kk..16kk+7 and 16kk+8..+15 are the A fragment of keys 16kk..
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            p[kk][0] = pack_bf16(s[8 * kk], s[8 * kk + 1]);
            p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
            p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
            p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
        }
        if (!OVERLAP) {
            wgmma_fence();
            issue_pv(o, p, vTile(t), vLbo, vSbo);
            wgmma_commit();
            wgmma_wait_all();
            fence_registers(o);
        }
        __syncthreads();  // both warpgroups are done with K tile t (and V tile t-1 or t) before they are refilled
    }
    if (OVERLAP) {
        // the last tile's P·V (its V tile arrived with it: the last wait left no group pending but an empty one)
        wgmma_fence();
        issue_pv(o, p, vTile(tiles - 1), vLbo, vSbo);
        wgmma_commit();
        wgmma_wait_all();
        fence_registers(o);
    }

    const float invA = 1.0f / quad_sum(sumA);
    const float invB = 1.0f / quad_sum(sumB);
    const int rA = m0 + row0 + g;
    const int rB = rA + 8;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
        const int col = h * D + j * 8 + 2 * quad;
        if (rA < rows) {
            *reinterpret_cast<unsigned*>(out + (long long) rA * outStride + col) = pack_bf16(o[4 * j] * invA, o[4 * j + 1] * invA);
        }
        if (rB < rows) {
            *reinterpret_cast<unsigned*>(out + (long long) rB * outStride + col) =
                    pack_bf16(o[4 * j + 2] * invB, o[4 * j + 3] * invB);
        }
    }
}

#define FLASH_ATTENTION_WGMMA(NAME, VSWAP, OVERLAP)                                                                \
    extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) NAME(                                             \
        const bf16* __restrict__ q, const bf16* __restrict__ kCache, const bf16* __restrict__ vCache,              \
        bf16* __restrict__ out, int rows, int pos0, int heads, int kvHeads, int capacity, int qStride,             \
        int outStride, float scaleLog2) {                                                                          \
        flash_attention_wgmma<VSWAP, OVERLAP>(q, kCache, vCache, out, rows, pos0, heads, kvHeads, capacity,       \
                                              qStride, outStride, scaleLog2);                                      \
    }

// LaunchGeometry.wgmmaKernels(): shared memory WG_SHARED_BYTES, WG_SHARED_BYTES_OVERLAP for _overlap
FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128, false, false)
FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128_vswap, true, false)
FLASH_ATTENTION_WGMMA(flash_attention_wgmma_d128_overlap, false, true)
