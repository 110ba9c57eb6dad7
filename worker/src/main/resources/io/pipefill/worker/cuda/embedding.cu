#include "common.cuh"

// out[t, :] = table[ids[t], :]. One block per token; ids were range-checked on the host.
extern "C" __global__ void embedding_gather(const int* __restrict__ ids, const bf16* __restrict__ table,
                                            bf16* __restrict__ out, int tokens, int hidden) {
    int t = blockIdx.x;
    if (t >= tokens) return;
    const bf16* src = table + (long long) ids[t] * hidden;
    bf16* dst = out + (long long) t * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        dst[i] = src[i];
    }
}
