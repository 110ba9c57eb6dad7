package io.pipefill.worker.cuda;

import java.util.Map;
import java.util.TreeMap;

/**
 * Offset bookkeeping for one big cudaMalloc: first-fit over a free list kept sorted by offset, neighbours
 * coalesced on free. Plain Java over offsets, so it is tested without a GPU; the device side only adds the
 * base address. One allocation up front avoids cudaMalloc/cudaFree's implicit device synchronisation during a
 * run and makes "does it fit" a question answered before the first chunk.
 */
final class DevicePool {
    /** cudaMalloc's own alignment; cuBLAS and vector loads are happiest with it. */
    public static final long ALIGNMENT = 256;

    private final long capacity;
    /** offset to size of each free range, never adjacent (they are merged). */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** offset to size of each live allocation. */
    private final TreeMap<Long, Long> used = new TreeMap<>();
    private long usedBytes;

    DevicePool(long capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("pool capacity must be positive, got " + capacity);
        }
        this.capacity = capacity / ALIGNMENT * ALIGNMENT;
        free.put(0L, this.capacity);
    }

    static long align(long bytes) {
        return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** Offset of {@code bytes} (rounded up to the alignment); {@code what} names it in the out-of-memory error. */
    public long allocate(long bytes, String what) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("allocation of " + bytes + " bytes for " + what);
        }
        long size = align(bytes);
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            if (e.getValue() >= size) {
                long off = e.getKey();
                free.remove(off);
                if (e.getValue() > size) {
                    free.put(off + size, e.getValue() - size);
                }
                used.put(off, size);
                usedBytes += size;
                return off;
            }
        }
        throw new IllegalStateException(String.format(
                "GPU memory pool exhausted: %s needs %.1f MiB but the largest free block is %.1f MiB (%.1f of %.1f MiB in use)",
                what, size / 1048576.0, largestFree() / 1048576.0, usedBytes / 1048576.0, capacity / 1048576.0));
    }

    public void free(long offset) {
        Long size = used.remove(offset);
        if (size == null) {
            throw new IllegalArgumentException("offset " + offset + " is not an allocation of this pool");
        }
        usedBytes -= size;
        long start = offset;
        long end = offset + size;
        Map.Entry<Long, Long> before = free.floorEntry(start);
        if (before != null && before.getKey() + before.getValue() == start) {
            start = before.getKey();
            free.remove(before.getKey());
        }
        Long after = free.get(end);
        if (after != null) {
            free.remove(end);
            end += after;
        }
        free.put(start, end - start);
    }

    public long capacity() {
        return capacity;
    }

    long usedBytes() {
        return usedBytes;
    }

    long largestFree() {
        return free.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Free ranges; one range of the whole capacity once everything is freed. */
    int freeRanges() {
        return free.size();
    }
}
