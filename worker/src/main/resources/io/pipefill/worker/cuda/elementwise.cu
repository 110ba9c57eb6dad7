#include "common.cuh"

// out[r, j] = silu(gateUp[r, j]) * gateUp[r, inter + j]: the fused [gate; up] projection's output.
extern "C" __global__ void swiglu(const bf16* __restrict__ gateUp, bf16* __restrict__ out, int rows, int inter) {
    long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long) rows * inter) return;
    long long r = idx / inter;
    int j = (int) (idx % inter);
    float g = __bfloat162float(gateUp[r * 2 * inter + j]);
    float u = __bfloat162float(gateUp[r * 2 * inter + inter + j]);
    out[idx] = __float2bfloat16(g / (1.0f + __expf(-g)) * u);
}

// x += y, element-wise (the residual stream).
extern "C" __global__ void residual_add(bf16* __restrict__ x, const bf16* __restrict__ y, long long n) {
    long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    x[idx] = __float2bfloat16(__bfloat162float(x[idx]) + __bfloat162float(y[idx]));
}

// x[r, c] += bias[c] for the first `cols` columns of rows of stride rowStride (Qwen2's q/k/v biases).
extern "C" __global__ void add_bias(bf16* __restrict__ x, const bf16* __restrict__ bias, int rows, int cols,
                                    int rowStride) {
    long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long) rows * cols) return;
    long long r = idx / cols;
    int c = (int) (idx % cols);
    bf16* v = x + r * rowStride + c;
    *v = __float2bfloat16(__bfloat162float(*v) + __bfloat162float(bias[c]));
}
