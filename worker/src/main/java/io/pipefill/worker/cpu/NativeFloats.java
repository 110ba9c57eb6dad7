package io.pipefill.worker.cpu;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A float array in native memory that BLAS reads and writes without copies. Allocated with malloc and freed
 * explicitly on close: weights and KV caches are large and long-lived, and JavaCPP's garbage-collected
 * accounting (capped at the Java heap size by default) would refuse them.
 */
public final class NativeFloats implements AutoCloseable {
    private final long length;
    private FloatPointer base;

    public NativeFloats(long length) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive, got " + length);
        }
        Pointer raw = Pointer.malloc(length * Float.BYTES);
        if (raw == null || raw.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + (length * Float.BYTES >> 20) + " MiB of native memory");
        }
        Pointer.memset(raw, 0, length * Float.BYTES);
        this.base = new FloatPointer(raw).capacity(length).limit(length);
        this.length = length;
    }

    public long length() {
        return length;
    }

    public long bytes() {
        return length * Float.BYTES;
    }

    /** A pointer to element {@code offset}; a fresh object, so concurrent callers never share a position. */
    public FloatPointer at(long offset) {
        checkOpen();
        if (offset < 0 || offset >= length) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside [0, " + length + ")");
        }
        return base.getPointer(offset);
    }

    /** A buffer view of {@code count} elements from {@code offset}. */
    public FloatBuffer buffer(long offset, int count) {
        checkOpen();
        if (offset < 0 || count < 0 || offset + count > length) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + count) + ") outside [0, " + length + ")");
        }
        FloatPointer p = base.getPointer(offset);
        p.capacity(count).limit(count);
        return p.asBuffer();
    }

    public void get(long offset, float[] dst, int dstOffset, int count) {
        buffer(offset, count).get(dst, dstOffset, count);
    }

    public void put(long offset, float[] src, int srcOffset, int count) {
        buffer(offset, count).put(src, srcOffset, count);
    }

    /** Copies {@code count} elements from {@code src} at {@code srcOffset} to {@code dst} at {@code dstOffset}, natively. */
    public static void copy(NativeFloats src, long srcOffset, NativeFloats dst, long dstOffset, long count) {
        src.checkRange(srcOffset, count);
        dst.checkRange(dstOffset, count);
        Pointer.memcpy(dst.base.getPointer(dstOffset), src.base.getPointer(srcOffset), count * Float.BYTES);
    }

    private void checkRange(long offset, long count) {
        checkOpen();
        if (offset < 0 || count < 0 || offset + count > length) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + count) + ") outside [0, " + length + ")");
        }
    }

    /** Sets elements [0, count) to zero. */
    public void zero(long count) {
        checkOpen();
        if (count < 0 || count > length) {
            throw new IndexOutOfBoundsException("count " + count + " outside [0, " + length + "]");
        }
        Pointer.memset(base, 0, count * Float.BYTES);
    }

    private void checkOpen() {
        if (base == null) {
            throw new IllegalStateException("native buffer already freed");
        }
    }

    @Override
    public synchronized void close() {
        if (base != null) {
            Pointer.free(base);
            base = null;
        }
    }
}
