#include "common.cuh"

// Rotary embedding in the Hugging Face rotate_half layout, in place: dimension i of a head pairs with
// i + headDim/2. cos/sin are the stage's FP32 tables [capacity][headDim/2] by absolute position, computed once at
// stage load on the host in double precision (RopeTable); row r of the chunk is position pos0 + r, which the
// stage has checked lies below the capacity. Heads start at column colOffset of each row (row stride rowStride).
// One thread per (row, head, pair).
extern "C" __global__ void rope(bf16* __restrict__ x, const float* __restrict__ cosTable,
                                const float* __restrict__ sinTable, int rows, int heads, int headDim,
                                int rowStride, int colOffset, int pos0) {
    int half = headDim / 2;
    long long idx = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long) rows * heads * half;
    if (idx >= total) return;
    int i = (int) (idx % half);
    int h = (int) ((idx / half) % heads);
    int r = (int) (idx / ((long long) half * heads));
    bf16* v = x + (long long) r * rowStride + colOffset + h * headDim;
    long long at = ((long long) pos0 + r) * half + i;
    float c = cosTable[at];
    float s = sinTable[at];
    float x1 = __bfloat162float(v[i]);
    float x2 = __bfloat162float(v[i + half]);
    v[i] = __float2bfloat16(x1 * c - x2 * s);
    v[i + half] = __float2bfloat16(x2 * c + x1 * s);
}
