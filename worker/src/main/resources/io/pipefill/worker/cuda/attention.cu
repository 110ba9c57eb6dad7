#include "common.cuh"

// Causal attention of a chunk of queries against the KV cache (the prefix plus the chunk itself), flash-style:
// keys are streamed through shared memory in tiles and folded into an online softmax, so no rows × keys score
// matrix is ever stored. First version: tiled, FP32 arithmetic on CUDA cores, one warp per query row. Tensor
// cores (mma.sync m16n8k16 BF16 for Q·Kᵀ and P·V, FA2-style) are the next step; this one is the correctness
// reference the faster kernel will be checked against.
//
// Layout. q: rows of qStride BF16 values, head h at column h * headDim. kCache / vCache: this layer's cache,
// [kvHeads][capacity][headDim] BF16, already holding positions [0, pos0 + rows) (the chunk's keys were
// appended by kv_append). out: rows of outStride values, head h at column h * headDim.
// Causal mask aligned bottom-right: query row r sits at absolute position pos0 + r and sees keys 0..pos0 + r.
// GQA: query head h reads key/value head h / (heads / kvHeads).
// Grid: (ceil(rows / ATTN_WARPS), heads); block: ATTN_WARPS * 32 threads. headDim even, <= ATTN_MAX_HEAD_DIM.

#define ATTN_WARPS 4
#define ATTN_KEYS 32
#define ATTN_MAX_HEAD_DIM 256
#define ATTN_PER_LANE (ATTN_MAX_HEAD_DIM / 32)
// Key rows in shared memory are padded by one 32-bit word: each lane reads its own key row at the same column,
// and an odd row stride in words puts the 32 lanes in 32 different banks (unpadded, headDim 128 is 32-way).
#define ATTN_PAD 2

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    }
    return v;
}

// (No __launch_bounds__: ptxas -v reports 48 registers, no spills, ~37 KB static shared memory on sm_90.)
extern "C" __global__ void attention_prefill(const bf16* __restrict__ q, const bf16* __restrict__ kCache, const bf16* __restrict__ vCache,
                                             bf16* __restrict__ out, int rows, int pos0, int heads, int kvHeads,
                                             int headDim, int capacity, int qStride, int outStride, float scale) {
    __shared__ bf16 ks[ATTN_KEYS * (ATTN_MAX_HEAD_DIM + ATTN_PAD)];
    __shared__ bf16 vs[ATTN_KEYS * ATTN_MAX_HEAD_DIM];
    __shared__ float qs[ATTN_WARPS][ATTN_MAX_HEAD_DIM];
    const float NEG_INF = __int_as_float(0xff800000);

    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int h = blockIdx.y;
    int kh = h / (heads / kvHeads);
    int r = blockIdx.x * ATTN_WARPS + warp;
    bool active = r < rows;
    int last = pos0 + r;  // the last key this row may see
    // the last key any row of this block sees: the loop bound, uniform over the block (it holds __syncthreads)
    int blockLast = min(pos0 + (int) blockIdx.x * ATTN_WARPS + ATTN_WARPS - 1, pos0 + rows - 1);

    if (active) {
        // the softmax scale is folded into q once instead of into every score
        const bf16* qRow = q + (long long) r * qStride + (long long) h * headDim;
        for (int i = lane; i < headDim; i += 32) {
            qs[warp][i] = __bfloat162float(qRow[i]) * scale;
        }
    }
    __syncwarp();

    float acc[ATTN_PER_LANE];
#pragma unroll
    for (int c = 0; c < ATTN_PER_LANE; c++) {
        acc[c] = 0.0f;
    }
    float m = NEG_INF;  // running max of the scores
    float l = 0.0f;     // running sum of exp(score - m)
    const bf16* kBase = kCache + (long long) kh * capacity * headDim;
    const bf16* vBase = vCache + (long long) kh * capacity * headDim;

    for (int k0 = 0; k0 <= blockLast; k0 += ATTN_KEYS) {
        int tileKeys = min(ATTN_KEYS, blockLast + 1 - k0);
        __syncthreads();  // the previous tile is no longer read
        int kStride = headDim + ATTN_PAD;
        for (int i = threadIdx.x; i < tileKeys * headDim; i += blockDim.x) {
            ks[(i / headDim) * kStride + i % headDim] = kBase[(long long) k0 * headDim + i];
            vs[i] = vBase[(long long) k0 * headDim + i];
        }
        __syncthreads();
        if (!active || k0 > last) {
            continue;  // fully masked tile for this row; keep looping for the block's barriers
        }
        int j = k0 + lane;
        float s = NEG_INF;
        if (lane < tileKeys && j <= last) {
            const bf16* kRow = ks + lane * kStride;
            float dot = 0.0f;
            for (int i = 0; i < headDim; i++) {
                dot += qs[warp][i] * __bfloat162float(kRow[i]);
            }
            s = dot;
        }
        // key k0 <= last is visible to lane 0, so the tile max is finite
        float mNew = fmaxf(m, warp_max(s));
        float alpha = __expf(m - mNew);  // 0 on the first tile (m = -inf)
        float p = s == NEG_INF ? 0.0f : __expf(s - mNew);
        l = l * alpha + warp_sum(p);
#pragma unroll
        for (int c = 0; c < ATTN_PER_LANE; c++) {
            acc[c] *= alpha;
        }
        for (int jj = 0; jj < tileKeys; jj++) {
            float pj = __shfl_sync(0xffffffffu, p, jj);
            const bf16* vRow = vs + jj * headDim;
#pragma unroll
            for (int c = 0; c < ATTN_PER_LANE; c++) {
                int d = lane + 32 * c;
                if (d < headDim) {
                    acc[c] += pj * __bfloat162float(vRow[d]);
                }
            }
        }
        m = mNew;
    }

    if (active) {
        float inv = 1.0f / l;
        bf16* oRow = out + (long long) r * outStride + (long long) h * headDim;
#pragma unroll
        for (int c = 0; c < ATTN_PER_LANE; c++) {
            int d = lane + 32 * c;
            if (d < headDim) {
                oRow[d] = __float2bfloat16(acc[c] * inv);
            }
        }
    }
}

// Appends a chunk's keys and values (after head norm and RoPE) to the cache: row t of qkv holds k head kh at
// column kOffset + kh * headDim and v head kh at vOffset + kh * headDim; it goes to position pos0 + t of
// [kvHeads][capacity][headDim]. One thread per (row, kv head, dim).
extern "C" __global__ void kv_append(const bf16* __restrict__ qkv, bf16* __restrict__ kCache, bf16* __restrict__ vCache,
                                     int rows, int kvHeads, int headDim, int rowStride, int kOffset, int vOffset,
                                     int capacity, int pos0) {
    long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long) rows * kvHeads * headDim;
    if (idx >= total) return;
    int d = (int) (idx % headDim);
    int kh = (int) ((idx / headDim) % kvHeads);
    int t = (int) (idx / ((long long) headDim * kvHeads));
    const bf16* row = qkv + (long long) t * rowStride;
    long long at = ((long long) kh * capacity + pos0 + t) * headDim + d;
    kCache[at] = row[kOffset + kh * headDim + d];
    vCache[at] = row[vOffset + kh * headDim + d];
}
