#include "common.cuh"

// Causal attention of a chunk of queries against the KV cache on tensor cores, FlashAttention-2 style:
// mma.sync m16n8k16 (BF16 in, FP32 accumulate) for Q·Kᵀ and P·V, an online softmax in registers, K/V tiles
// streamed through shared memory with cp.async double buffering. No rows × keys score matrix is stored.
// Same semantics and layouts as attention_prefill in attention.cu (the CUDA-core kernel, kept as the
// fallback for head dims this file does not instantiate):
//   q: rows of qStride BF16 values, head h at column h * D; kCache / vCache: this layer's cache
//   [kvHeads][capacity][D], holding positions [0, pos0 + rows); out: rows of outStride values.
//   Causal mask aligned bottom-right: query row r (absolute position pos0 + r) sees keys 0..pos0 + r.
//   GQA: query head h reads kv head h / (heads / kvHeads).
// Grid: (ceil(rows / BM), heads), BM = 16 * WARPS * MT query rows per block, MT 16-row m-tiles per warp; block
// WARPS * 32 threads; dynamic shared memory (BM + 4 * FA_BLOCK_N) * (D + 8) * 2 bytes (LaunchGeometry.flashSharedBytes).
// Requires (checked on the host): D % 16 == 0, qStride and outStride multiples of 8, 16-byte aligned bases.

#define FA_BLOCK_N 64

__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const bf16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x4_trans(unsigned (&r)[4], const bf16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

// c += a · b for one 16x8x16 tile: a row-major 16x16 (4 regs), b column-major 16x8 (2 regs), c 16x8 FP32.
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int D, int WARPS, int MT>
__device__ __forceinline__ void flash_attention(const bf16* __restrict__ q, const bf16* __restrict__ kCache,
                                                const bf16* __restrict__ vCache, bf16* __restrict__ out, int rows,
                                                int pos0, int heads, int kvHeads, int capacity, int qStride,
                                                int outStride, float scaleLog2) {
    // MT m-tiles of 16 query rows per warp: every K and V fragment read from shared memory feeds MT mma's,
    // which is what bounds the kernel (shared-memory bandwidth per FLOP). With MT = 1 the Q fragments stay in
    // registers; with MT = 2 they would not fit beside the accumulators, so they are re-read per tile.
    constexpr int BM = WARPS * 16 * MT;
    constexpr int BN = FA_BLOCK_N;
    constexpr int LD = D + 8;  // padded rows: the 8 row addresses of an ldmatrix fall in distinct banks
    constexpr int CHUNKS = D / 8;  // 16-byte pieces per row
    constexpr int THREADS = WARPS * 32;
    constexpr bool Q_IN_REGISTERS = MT == 1;
    const float NEG_INF = __int_as_float(0xff800000);

    extern __shared__ __align__(16) unsigned char smem[];
    bf16* qs = reinterpret_cast<bf16*>(smem);  // [BM][LD]
    bf16* ks = qs + BM * LD;                   // [2][BN][LD]
    bf16* vs = ks + 2 * BN * LD;               // [2][BN][LD]

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int g = lane >> 2;  // fragment row (and row + 8)
    const int quad = lane & 3;  // fragment column pair
    // causal blocks differ in work: the latest rows see the most keys, so they are scheduled first
    const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
    const int h = blockIdx.y;
    const int kh = h / (heads / kvHeads);
    const int kvEnd = min(pos0 + m0 + BM, pos0 + rows);  // keys [0, kvEnd) are visible to some row here
    const int tiles = (kvEnd + BN - 1) / BN;
    const bf16* kBase = kCache + (long long) kh * capacity * D;
    const bf16* vBase = vCache + (long long) kh * capacity * D;
    const int warpRow0 = warp * 16 * MT;  // this warp's first row in the block

    for (int i = tid; i < BM * CHUNKS; i += THREADS) {
        int r = i / CHUNKS;
        int c = i % CHUNKS;
        bool ok = m0 + r < rows;
        cp_async16(qs + r * LD + c * 8, q + (long long) (ok ? m0 + r : 0) * qStride + (long long) h * D + c * 8, ok);
    }
    auto loadKv = [&](int t, int buf) {
        int k0 = t * BN;
        for (int i = tid; i < BN * CHUNKS; i += THREADS) {
            int r = i / CHUNKS;
            int c = i % CHUNKS;
            bool ok = k0 + r < kvEnd;
            long long off = (long long) (ok ? k0 + r : 0) * D + c * 8;
            cp_async16(ks + (buf * BN + r) * LD + c * 8, kBase + off, ok);
            cp_async16(vs + (buf * BN + r) * LD + c * 8, vBase + off, ok);
        }
    };
    auto loadQ = [&](unsigned (&frag)[4], int mt, int kk) {
        ldsm_x4(frag, qs + (warpRow0 + mt * 16 + (lane & 7) + 8 * ((lane >> 3) & 1)) * LD + kk * 16 + 8 * (lane >> 4));
    };
    loadKv(0, 0);
    cp_async_commit();

    unsigned qf[Q_IN_REGISTERS ? D / 16 : 1][4];
    float o[MT][D / 8][4];
    float rowMax[MT][2];  // rows g and g + 8 of each m-tile
    float rowSum[MT][2];  // this thread's share; the quad's shares are added at the end
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int d = 0; d < D / 8; d++) {
            o[mt][d][0] = o[mt][d][1] = o[mt][d][2] = o[mt][d][3] = 0.0f;
        }
        rowMax[mt][0] = rowMax[mt][1] = NEG_INF;
        rowSum[mt][0] = rowSum[mt][1] = 0.0f;
    }

    for (int t = 0; t < tiles; t++) {
        const int buf = t & 1;
        if (t + 1 < tiles) {
            loadKv(t + 1, buf ^ 1);
        }
        cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning "tile t is here"
        cp_async_wait_one();
        __syncthreads();
        if constexpr (Q_IN_REGISTERS) {
            if (t == 0) {
#pragma unroll
                for (int kk = 0; kk < D / 16; kk++) {
                    loadQ(qf[kk], 0, kk);
                }
            }
        }

        float s[MT][BN / 8][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
#pragma unroll
            for (int n = 0; n < BN / 8; n++) {
                s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
            }
        }
        const bf16* kt = ks + buf * BN * LD;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            unsigned a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                if constexpr (Q_IN_REGISTERS) {
#pragma unroll
                    for (int i = 0; i < 4; i++) {
                        a[mt][i] = qf[kk][i];
                    }
                } else {
                    loadQ(a[mt], mt, kk);
                }
            }
#pragma unroll
            for (int n = 0; n < BN / 8; n += 2) {
                unsigned b[4];  // b0, b1 of key tiles n and n + 1
                ldsm_x4(b, kt + (n * 8 + (lane & 7) + 8 * (lane >> 4)) * LD + kk * 16 + 8 * ((lane >> 3) & 1));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816(s[mt][n], a[mt], b[0], b[1]);
                    mma16816(s[mt][n + 1], a[mt], b[2], b[3]);
                }
            }
        }

        // scale into the exp2 domain; mask only the tiles that reach past this warp's first row
        const int k0 = t * BN;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            const int posA = pos0 + m0 + warpRow0 + mt * 16 + g;  // absolute positions of the two rows
            const int posB = posA + 8;
            const bool masked = k0 + BN - 1 > pos0 + m0 + warpRow0 + mt * 16;
            float mA = rowMax[mt][0];
            float mB = rowMax[mt][1];
#pragma unroll
            for (int n = 0; n < BN / 8; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float v = s[mt][n][e] * scaleLog2;
                    if (masked && k0 + n * 8 + 2 * quad + (e & 1) > (e < 2 ? posA : posB)) {
                        v = NEG_INF;
                    }
                    s[mt][n][e] = v;
                }
                mA = fmaxf(mA, fmaxf(s[mt][n][0], s[mt][n][1]));
                mB = fmaxf(mB, fmaxf(s[mt][n][2], s[mt][n][3]));
            }
            mA = quad_max(mA);
            mB = quad_max(mB);
            // key 0 is visible to every row, so the maxima are finite from the first tile on
            const float alphaA = fast_exp2(rowMax[mt][0] - mA);  // 0 on the first tile
            const float alphaB = fast_exp2(rowMax[mt][1] - mB);
            rowMax[mt][0] = mA;
            rowMax[mt][1] = mB;
            rowSum[mt][0] *= alphaA;
            rowSum[mt][1] *= alphaB;
#pragma unroll
            for (int d = 0; d < D / 8; d++) {
                o[mt][d][0] *= alphaA;
                o[mt][d][1] *= alphaA;
                o[mt][d][2] *= alphaB;
                o[mt][d][3] *= alphaB;
            }
#pragma unroll
            for (int n = 0; n < BN / 8; n++) {
                s[mt][n][0] = fast_exp2(s[mt][n][0] - mA);
                s[mt][n][1] = fast_exp2(s[mt][n][1] - mA);
                s[mt][n][2] = fast_exp2(s[mt][n][2] - mB);
                s[mt][n][3] = fast_exp2(s[mt][n][3] - mB);
                rowSum[mt][0] += s[mt][n][0] + s[mt][n][1];
                rowSum[mt][1] += s[mt][n][2] + s[mt][n][3];
            }
        }

        // P·V: the score accumulators of key tiles 2kk and 2kk + 1 are exactly the A fragment of keys 16kk..
        const bf16* vt = vs + buf * BN * LD;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            unsigned p[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                p[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                p[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                p[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                p[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int d = 0; d < D / 8; d += 2) {
                unsigned b[4];  // b0, b1 of dim tiles d and d + 1
                ldsm_x4_trans(b, vt + (kk * 16 + (lane & 7) + 8 * ((lane >> 3) & 1)) * LD + d * 8 + 8 * (lane >> 4));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816(o[mt][d], p[mt], b[0], b[1]);
                    mma16816(o[mt][d + 1], p[mt], b[2], b[3]);
                }
            }
        }
        __syncthreads();  // every warp is done with this buffer before the next iteration refills it
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        const float invA = 1.0f / quad_sum(rowSum[mt][0]);
        const float invB = 1.0f / quad_sum(rowSum[mt][1]);
        const int rA = m0 + warpRow0 + mt * 16 + g;
        const int rB = rA + 8;
#pragma unroll
        for (int d = 0; d < D / 8; d++) {
            const int col = h * D + d * 8 + 2 * quad;
            if (rA < rows) {
                *reinterpret_cast<unsigned*>(out + (long long) rA * outStride + col) =
                        pack_bf16(o[mt][d][0] * invA, o[mt][d][1] * invA);
            }
            if (rB < rows) {
                *reinterpret_cast<unsigned*>(out + (long long) rB * outStride + col) =
                        pack_bf16(o[mt][d][2] * invB, o[mt][d][3] * invB);
            }
        }
    }
}

#define FLASH_ATTENTION(D, W, MT)                                                                                    \
    extern "C" __global__ void __launch_bounds__(W * 32) flash_attention_d##D##_w##W##_m##MT(                     \
        const bf16* __restrict__ q, const bf16* __restrict__ kCache, const bf16* __restrict__ vCache,              \
        bf16* __restrict__ out, int rows, int pos0, int heads, int kvHeads, int capacity, int qStride,             \
        int outStride, float scaleLog2) {                                                                          \
        flash_attention<D, W, MT>(q, kCache, vCache, out, rows, pos0, heads, kvHeads, capacity, qStride, outStride,\
                              scaleLog2);                                                                          \
    }

// the instantiations LaunchGeometry.flashKernel picks (FLASH_HEAD_DIMS, FLASH_TWO_M_TILES)
FLASH_ATTENTION(16, 4, 1)
FLASH_ATTENTION(32, 4, 1)
FLASH_ATTENTION(48, 4, 1)
FLASH_ATTENTION(64, 4, 2)
FLASH_ATTENTION(96, 4, 1)
FLASH_ATTENTION(128, 4, 2)
