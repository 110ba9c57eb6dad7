package io.pipefill.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The sequence of chunks a prompt is prefilled in. Every stage derives the same schedule, so no per-chunk
 * negotiation is needed.
 */
public record ChunkSchedule(int promptTokens, List<Chunk> chunks) {

    public ChunkSchedule {
        chunks = List.copyOf(chunks);
        int expected = 0;
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            if (c.index() != i || c.offset() != expected) {
                throw new IllegalArgumentException("chunks must be contiguous from 0; chunk " + i + " is " + c);
            }
            expected = c.end();
        }
        if (expected != promptTokens) {
            throw new IllegalArgumentException("chunks cover " + expected + " tokens but the prompt has " + promptTokens);
        }
    }

    /** Fixed-size chunks; the last one takes the remainder. */
    public static ChunkSchedule fixed(int promptTokens, int chunkSize) {
        if (promptTokens <= 0) {
            throw new IllegalArgumentException("prompt must have at least one token, got " + promptTokens);
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunk size must be positive, got " + chunkSize);
        }
        List<Chunk> chunks = new ArrayList<>();
        for (int offset = 0, i = 0; offset < promptTokens; offset += chunkSize, i++) {
            chunks.add(new Chunk(i, offset, Math.min(chunkSize, promptTokens - offset)));
        }
        return new ChunkSchedule(promptTokens, Collections.unmodifiableList(chunks));
    }

    public int size() {
        return chunks.size();
    }

    public int maxChunkSize() {
        return chunks.stream().mapToInt(Chunk::size).max().orElse(0);
    }
}
