package io.pipefill.worker.cuda;

/**
 * One chunk's attention as cuDNN sees it: {@code rows} queries at absolute positions pos0..pos0+rows-1 against
 * keys 0..pos0+rows-1 of the KV cache, causal mask aligned bottom-right, GQA, BF16 everywhere. Plain Java
 * (no CUDA class is touched), so the layouts handed to cuDNN are unit-tested without a GPU.
 *
 * <p>Layouts, in elements, matching attention.cu's {@code attention_prefill}: q is rows of {@code qStride}
 * values (the fused q/k/v buffer) with head h at column h·headDim; the K and V caches of one layer are
 * [kvHeads][capacity][headDim]; out is rows of {@code outStride} values with head h at column h·headDim.
 * Every 4-D dims/strides pair below is (batch = 1, head, sequence, headDim) the way cuDNN's SDPA graph wants it.
 */
record AttentionShape(int heads, int kvHeads, int headDim, int rows, int pos0, int capacity, int qStride,
                             int outStride) {
    /** cuDNN's fused flash attention on sm_80/sm_90: head dims that are a multiple of 8, up to 256. */
    public static final int MAX_HEAD_DIM = 256;
    /** BF16 elements per 16 bytes: the byte alignment the tensors are declared with. */
    static final int ALIGN_ELEMENTS = 8;
    public static final int ALIGN_BYTES = 16;

    public AttentionShape {
        requirePositive("heads", heads);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("rows", rows);
        requirePositive("capacity", capacity);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not group evenly over " + kvHeads
                    + " key/value heads (GQA needs heads to be a multiple of kvHeads)");
        }
        if (headDim % ALIGN_ELEMENTS != 0 || headDim > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("cuDNN fused attention supports head dims that are a multiple of "
                    + ALIGN_ELEMENTS + " and at most " + MAX_HEAD_DIM + ", got " + headDim);
        }
        if (pos0 < 0) {
            throw new IllegalArgumentException("pos0 must be >= 0, got " + pos0);
        }
        if ((long) pos0 + rows > capacity) {
            throw new IllegalArgumentException("keys 0.." + ((long) pos0 + rows - 1) + " do not fit the KV cache capacity "
                    + capacity + " (pos0 " + pos0 + " + rows " + rows + ")");
        }
        long qDim = (long) heads * headDim;
        if (qStride < qDim) {
            throw new IllegalArgumentException("qStride " + qStride + " is shorter than the " + heads + " query heads × "
                    + headDim + " = " + qDim + " values a row holds");
        }
        if (outStride < qDim) {
            throw new IllegalArgumentException("outStride " + outStride + " is shorter than the " + heads + " heads × "
                    + headDim + " = " + qDim + " values an output row holds");
        }
        if (qStride % ALIGN_ELEMENTS != 0 || outStride % ALIGN_ELEMENTS != 0) {
            throw new IllegalArgumentException("row strides must be multiples of " + ALIGN_ELEMENTS + " BF16 values ("
                    + ALIGN_BYTES + " bytes) for cuDNN's aligned loads, got qStride " + qStride + ", outStride " + outStride);
        }
    }

    /** The layout of {@code CudaStage}: q inside the fused q/k/v rows, output rows of exactly heads·headDim. */
    static AttentionShape ofStage(int heads, int kvHeads, int headDim, int rows, int pos0, int capacity) {
        int qDim = heads * headDim;
        int kvDim = kvHeads * headDim;
        return new AttentionShape(heads, kvHeads, headDim, rows, pos0, capacity, qDim + 2 * kvDim, qDim);
    }

    private static void requirePositive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /** Keys visible to the chunk: the cached prefix plus the chunk itself. */
    int kvLen() {
        return pos0 + rows;
    }

    public int qDim() {
        return heads * headDim;
    }

    public float scale() {
        return (float) (1.0 / Math.sqrt(headDim));
    }

    /**
     * The bottom-right causal mask exactly as the cuDNN graph evaluates it (row + s_kv - s_q >= col, with
     * s_q = rows and s_kv = kvLen); equal to attention.cu's col <= pos0 + row.
     */
    public boolean visible(int row, int col) {
        return row + kvLen() - rows >= col;
    }

    long[] qDims() {
        return new long[] {1, heads, rows, headDim};
    }

    long[] qStrides() {
        return new long[] {(long) rows * qStride, headDim, qStride, 1};
    }

    /** Kᵀ as the first matmul's B operand: (1, kvHeads, headDim, kvLen), the cache's strides with the last two swapped. */
    long[] kTransposedDims() {
        return new long[] {1, kvHeads, headDim, kvLen()};
    }

    long[] kTransposedStrides() {
        long head = (long) capacity * headDim;
        return new long[] {kvHeads * head, head, 1, headDim};
    }

    long[] vDims() {
        return new long[] {1, kvHeads, kvLen(), headDim};
    }

    long[] vStrides() {
        long head = (long) capacity * headDim;
        return new long[] {kvHeads * head, head, headDim, 1};
    }

    long[] outDims() {
        return new long[] {1, heads, rows, headDim};
    }

    long[] outStrides() {
        return new long[] {(long) rows * outStride, headDim, outStride, 1};
    }

    /** The virtual score tensors (rows × kvLen per head), packed: never stored, the fused kernel keeps them on chip. */
    long[] scoreDims() {
        return new long[] {1, heads, rows, kvLen()};
    }

    long[] scoreStrides() {
        long kv = kvLen();
        return new long[] {(long) heads * rows * kv, (long) rows * kv, kv, 1};
    }

    /** Per-row softmax statistics (max, sum of exponentials). */
    long[] rowStatDims() {
        return new long[] {1, heads, rows, 1};
    }

    long[] rowStatStrides() {
        return new long[] {(long) heads * rows, rows, 1, 1};
    }

    /** Causal FLOPs: two matmuls of 2·headDim per visible (query, key) pair, per head. */
    double causalFlops() {
        double pairs = (double) rows * pos0 + (double) rows * (rows + 1) / 2.0;
        return 4.0 * headDim * heads * pairs;
    }

    /** What an execution plan depends on; pos0 enters only through kvLen, so 32 layers share one plan. */
    PlanKey planKey() {
        return new PlanKey(heads, kvHeads, headDim, rows, kvLen(), capacity, qStride, outStride);
    }

    public record PlanKey(int heads, int kvHeads, int headDim, int rows, int kvLen, int capacity, int qStride,
                          int outStride) {
    }

    /** The shapes that differ from this one in the sequence lengths only (rows, pos0). */
    Family family() {
        return new Family(heads, kvHeads, headDim, capacity, qStride, outStride, rows == 1);
    }

    /**
     * A shape family: everything of a shape except its sequence lengths. The rest of what cuDNN sees is the same
     * for every shape of this class (BF16 q/k/v/out, FP32 compute, the bottom-right causal mask, GQA, q inside
     * fused q/k/v rows, K and V caches [kvHeads][capacity][headDim]), so these fields decide whether cuDNN's
     * flash-attention engine supports the graph: when it refuses one shape of a family, {@link CudnnAttention}
     * takes it as refusing the family and searches no other sequence lengths of it. Single-row shapes (decode steps)
     * are a family of their own: engines that refuse one query row must not turn prefill chunks away, nor the other
     * way round. A stage's chunks are all of one family (its heads, head dim, capacity and strides are fixed at load).
     */
    public record Family(int heads, int kvHeads, int headDim, int capacity, int qStride, int outStride,
                         boolean singleRow) {
    }

    /** Fails, naming the operand, when a device address breaks the alignment the tensors were declared with. */
    static void checkAligned(String operand, long address) {
        if (address == 0) {
            throw new IllegalArgumentException(operand + " address is null");
        }
        if (address % ALIGN_BYTES != 0) {
            throw new IllegalArgumentException(operand + " address 0x" + Long.toHexString(address) + " is not "
                    + ALIGN_BYTES + "-byte aligned, which the cuDNN tensors are declared with");
        }
    }
}
