package io.pipefill.worker.cpu;

/**
 * A stage's KV cache: per layer a few planes, each one contiguous [capacity × width] block, so that a block of
 * positions is a plain strided matrix for BLAS. GQA keeps a key and a value plane per kv head
 * ({@link #keys}, {@link #values}); latent attention keeps the normalised latent and the rotated key shared by
 * every head ({@link #latent}, {@link #ropeKeys}), which is all MLA caches.
 */
final class KvCache implements AutoCloseable {
    private final int kvHeads;
    private final int[] widths;
    private final int capacity;
    private final NativeFloats[] planes;
    private final long bytes;
    private int length;

    private KvCache(int layers, int kvHeads, int[] widths, int capacity) {
        this.kvHeads = kvHeads;
        this.widths = widths.clone();
        this.capacity = capacity;
        this.planes = new NativeFloats[layers * widths.length];
        long floats = 0;
        try {
            for (int i = 0; i < planes.length; i++) {
                planes[i] = new NativeFloats((long) capacity * widths[i % widths.length]);
                floats += (long) capacity * widths[i % widths.length];
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            close();
            throw e;
        }
        this.bytes = floats * Float.BYTES;
    }

    /** GQA: a key and a value plane of {@code headDim} per kv head. */
    static KvCache heads(int layers, int kvHeads, int headDim, int capacity) {
        int[] widths = new int[2 * kvHeads];
        java.util.Arrays.fill(widths, headDim);
        return new KvCache(layers, kvHeads, widths, capacity);
    }

    /** Latent attention: the latent ({@code kvLoraRank}) and the rotated key ({@code ropeDim}) per position. */
    static KvCache latent(int layers, int kvLoraRank, int ropeDim, int capacity) {
        return new KvCache(layers, 0, new int[] {kvLoraRank, ropeDim}, capacity);
    }

    /** Bytes of a cache holding {@code floatsPerPosition} floats per position and layer. */
    static long bytesFor(int layers, int floatsPerPosition, int capacity) {
        return (long) layers * floatsPerPosition * capacity * Float.BYTES;
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
        return planes[layer * widths.length + kvHead];
    }

    NativeFloats values(int layer, int kvHead) {
        return planes[layer * widths.length + kvHeads + kvHead];
    }

    NativeFloats latent(int layer) {
        return planes[layer * widths.length];
    }

    NativeFloats ropeKeys(int layer) {
        return planes[layer * widths.length + 1];
    }

    long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        for (NativeFloats p : planes) {
            if (p != null) {
                p.close();
            }
        }
    }
}
