package io.pipefill.worker.cpu;

/**
 * Keys and values of a stage's layers, one contiguous [capacity × headDim] block per (layer, kv head), so
 * that a block of keys is a plain strided matrix for BLAS.
 */
final class KvCache implements AutoCloseable {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int capacity;
    private final NativeFloats[] keys;
    private final NativeFloats[] values;
    private int length;

    KvCache(int layers, int kvHeads, int headDim, int capacity) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = capacity;
        this.keys = new NativeFloats[layers * kvHeads];
        this.values = new NativeFloats[layers * kvHeads];
        try {
            for (int i = 0; i < keys.length; i++) {
                keys[i] = new NativeFloats((long) capacity * headDim);
                values[i] = new NativeFloats((long) capacity * headDim);
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            close();
            throw e;
        }
    }

    static long bytesFor(int layers, int kvHeads, int headDim, int capacity) {
        return 2L * layers * kvHeads * headDim * (long) capacity * Float.BYTES;
    }

    int capacity() {
        return capacity;
    }

    int length() {
        return length;
    }

    void reset() {
        length = 0;
    }

    /** Marks positions [0, newLength) as filled, after every layer has appended a chunk. */
    void advanceTo(int newLength) {
        if (newLength > capacity) {
            throw new IllegalStateException("KV cache overflow: " + newLength + " > capacity " + capacity);
        }
        length = newLength;
    }

    NativeFloats keys(int layer, int kvHead) {
        return keys[layer * kvHeads + kvHead];
    }

    NativeFloats values(int layer, int kvHead) {
        return values[layer * kvHeads + kvHead];
    }

    long bytes() {
        return bytesFor(layers, kvHeads, headDim, capacity);
    }

    @Override
    public void close() {
        for (NativeFloats k : keys) {
            if (k != null) {
                k.close();
            }
        }
        for (NativeFloats v : values) {
            if (v != null) {
                v.close();
            }
        }
    }
}
