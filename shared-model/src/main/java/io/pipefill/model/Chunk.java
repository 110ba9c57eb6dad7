package io.pipefill.model;

/** One prefill chunk: prompt tokens [offset, offset + size). */
public record Chunk(int index, int offset, int size) {
    public Chunk {
        if (index < 0 || offset < 0 || size <= 0) {
            throw new IllegalArgumentException("invalid chunk index=" + index + " offset=" + offset + " size=" + size);
        }
    }

    public int end() {
        return offset + size;
    }
}
