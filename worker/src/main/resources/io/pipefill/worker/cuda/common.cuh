// Shared helpers for pipefill's CUDA kernels. Compiled at start-up with NVRTC (straight to a cubin for the
// device's architecture) and in CI with nvcc -cubin -arch=sm_90. BF16 storage, FP32 arithmetic.
#pragma once
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

// Sum over the block; blockDim.x must be a multiple of 32 and at most 1024. Every thread gets the total.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    int warps = blockDim.x >> 5;
    v = lane < warps ? partial[lane] : 0.0f;
    v = warp_sum(v);
    __syncthreads();
    return v;
}

// Tensor-core kernels (flash_attention*.cu): shared-memory addresses, async copies, BF16 packing, exp2.

__device__ __forceinline__ unsigned smem_addr(const void* p) {
    return (unsigned) __cvta_generic_to_shared(p);
}

// 16 bytes global -> shared, asynchronously; when !valid nothing is read and the 16 bytes are zero-filled
// (keys past the cache's filled length may hold any bits, and 0 * NaN in P·V would poison a row).
__device__ __forceinline__ void cp_async16_to(unsigned dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
    cp_async16_to(smem_addr(dst), src, valid);
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

__device__ __forceinline__ void cp_async_wait_one() {
    asm volatile("cp.async.wait_group 1;\n" ::);
}

// Max and sum over the 4 threads of a quad: the lanes that hold one row of an mma / wgmma accumulator fragment.
__device__ __forceinline__ float quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// two floats as a BF16 pair, the first in the low half (the lower column of a fragment)
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&v);
}

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}
