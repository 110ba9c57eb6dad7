#include "common.cuh"

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w. One block per row, FP32 accumulation.
extern "C" __global__ void rms_norm(const bf16* __restrict__ x, const bf16* __restrict__ w, bf16* __restrict__ out,
                                    int rows, int hidden, float eps) {
    int r = blockIdx.x;
    if (r >= rows) return;
    const bf16* row = x + (long long) r * hidden;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = __bfloat162float(row[i]);
        ss += v * v;
    }
    float inv = rsqrtf(block_sum(ss) / hidden + eps);
    bf16* dst = out + (long long) r * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        dst[i] = __float2bfloat16(__bfloat162float(row[i]) * inv * __bfloat162float(w[i]));
    }
}

// Qwen3's per-head norm of q or k, in place: heads of headDim values starting at column colOffset of each
// row (row stride rowStride). One block per (row, head); blockDim.x is a multiple of 32.
extern "C" __global__ void head_rms_norm(bf16* __restrict__ x, const bf16* __restrict__ w, int rows, int heads,
                                         int headDim, int rowStride, int colOffset, float eps) {
    int r = blockIdx.x / heads;
    int h = blockIdx.x % heads;
    if (r >= rows) return;
    bf16* v = x + (long long) r * rowStride + colOffset + h * headDim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
        float f = __bfloat162float(v[i]);
        ss += f * f;
    }
    float inv = rsqrtf(block_sum(ss) / headDim + eps);
    for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
        v[i] = __float2bfloat16(__bfloat162float(v[i]) * inv * __bfloat162float(w[i]));
    }
}
