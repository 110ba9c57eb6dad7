#include "common.cuh"

// --random-weights: fills a block of a weight tensor on the device, no file read. Element (row0 + r,
// col0 + c) of a tensor `tensorCols` wide gets the value RandomWeights.value (Java) computes for its
// row-major index: splitmix64 of the index, top 24 bits as u in [0, 1), mean + halfWidth * (2u - 1) with
// two explicit roundings (__fmul_rn/__fadd_rn: a fused multiply-add would round once and differ from the
// CPU backend's values), then BF16 round-to-nearest-even.
__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

extern "C" __global__ void fill_uniform_bf16(bf16* __restrict__ out, long long rows, long long cols,
                                             long long tensorCols, long long row0, long long col0,
                                             unsigned long long seed, float mean, float halfWidth) {
    long long n = rows * cols;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += stride) {
        long long r = idx / cols;
        long long c = idx - r * cols;
        unsigned long long index = (unsigned long long) ((row0 + r) * tensorCols + col0 + c);
        unsigned long long z = splitmix64(seed + (index + 1ull) * 0x9E3779B97F4A7C15ull);
        float u = (float) (z >> 40) * 5.9604644775390625e-8f;  // 2^-24
        float x = 2.0f * u - 1.0f;                               // exact, fused or not
        out[idx] = __float2bfloat16_rn(__fadd_rn(mean, __fmul_rn(halfWidth, x)));
    }
}
