package io.pipefill.worker.cuda;

import io.pipefill.worker.engine.RotaryEmbedding;

/**
 * The RoPE cos and sin tables a CUDA stage keeps on the device for its whole KV capacity: two FP32 arrays
 * [capacity][headDim/2], row p holding position p, filled once at stage load from {@link RotaryEmbedding} (the
 * values the CPU engine computes per chunk, bit for bit: angles in double precision, the scaling's cos/sin factor
 * applied, rounded once to float). rope.cu reads row {@code pos0 + r} for a chunk's r-th token, so a chunk neither
 * computes nor uploads a table. Plain Java (no CUDA class), so what the device receives is unit-tested without a
 * GPU.
 *
 * <p>Size: {@link #bytes} = capacity × headDim × 4 bytes: at head dim 128, 64 MiB for 128K positions and 512 MiB
 * for 1M. That is an eighth of one layer's BF16 KV cache at 8 KV heads (2 × 8 × 128 × 2 bytes per position), so it
 * is kept whole, in FP32 (BF16 would lose the accuracy the CPU path has), rather than bounded and recomputed on the
 * fly for far positions; the pool allocation names it when it does not fit.
 */
final class RopeTable {
    /** Positions computed and uploaded at a time: the host holds 2 × 4096 × headDim/2 floats (2 MiB at 128), not the table. */
    static final int SLAB_POSITIONS = 4096;

    /** Receives the table in slabs, in order: {@code slab} holds positions [first, first + slab length). */
    @FunctionalInterface
    interface Sink {
        void put(int first, RotaryEmbedding.Table slab);
    }

    private RopeTable() {
    }

    /** Bytes of both tables for {@code capacity} positions of a head of {@code headDim} rotary dimensions. */
    static long bytes(int capacity, int headDim) {
        return 2L * capacity * (headDim / 2) * Float.BYTES;
    }

    /** Bytes of one table (cos or sin). */
    static long tableBytes(int capacity, int headDim) {
        return bytes(capacity, headDim) / 2;
    }

    /**
     * Computes positions [0, capacity) in slabs of {@link #SLAB_POSITIONS} and hands each to {@code sink}, in order;
     * each slab is {@code rope.table(first, n)}, so every row equals the CPU engine's row for that position.
     */
    static void fill(RotaryEmbedding rope, int capacity, Sink sink) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("the RoPE table needs a positive KV capacity, got " + capacity);
        }
        for (int first = 0; first < capacity; first += SLAB_POSITIONS) {
            sink.put(first, slab(rope, first, capacity));
        }
    }

    /** The slab of a table for {@code capacity} positions that starts at {@code first} (a multiple of the slab size). */
    static RotaryEmbedding.Table slab(RotaryEmbedding rope, int first, int capacity) {
        if (first < 0 || first >= capacity || first % SLAB_POSITIONS != 0) {
            throw new IllegalArgumentException("a slab starts at a multiple of " + SLAB_POSITIONS + " below the capacity "
                    + capacity + ", got " + first);
        }
        return rope.table(first, Math.min(SLAB_POSITIONS, capacity - first));
    }

    /** Where the slab starting at position {@code first} goes in a table, in bytes from the table's start. */
    static long byteOffset(int first, int headDim) {
        return index(first, 0, 0, headDim / 2) * Float.BYTES;
    }

    /** Where rope.cu reads pair {@code i} of the chunk's row {@code r} when the chunk starts at {@code pos0}. */
    static long index(int pos0, int r, int i, int half) {
        return ((long) pos0 + r) * half + i;
    }
}
