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

    /** The chunks of the given sizes, in order; the prompt is their sum. */
    public static ChunkSchedule ofSizes(List<Integer> sizes) {
        if (sizes == null || sizes.isEmpty()) {
            throw new IllegalArgumentException("a chunk schedule needs at least one chunk size");
        }
        List<Chunk> chunks = new ArrayList<>();
        long offset = 0;
        for (int i = 0; i < sizes.size(); i++) {
            Integer n = sizes.get(i);
            if (n == null || n <= 0) {
                throw new IllegalArgumentException("chunk " + i + " of the schedule has size " + n
                        + "; every chunk size must be a positive number of tokens");
            }
            if (offset + n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("the chunk sizes add up to more than " + Integer.MAX_VALUE + " tokens");
            }
            chunks.add(new Chunk(i, (int) offset, n));
            offset += n;
        }
        return new ChunkSchedule((int) offset, chunks);
    }

    /**
     * A schedule written as comma- or whitespace-separated chunk sizes ("8192,7680,7168"), the form
     * {@code --chunk-schedule} and the plan output use.
     */
    public static ChunkSchedule parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("the chunk schedule is empty: give chunk sizes such as 8192,7680,7168");
        }
        List<Integer> sizes = new ArrayList<>();
        for (String part : text.trim().split("[,\\s]+")) {
            if (part.isEmpty()) {
                continue;
            }
            try {
                sizes.add(Integer.parseInt(part));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("chunk schedule entry '" + part + "' is not a whole number of tokens;"
                        + " give sizes such as 8192,7680,7168");
            }
        }
        return ofSizes(sizes);
    }

    /** The chunk sizes in order. */
    public List<Integer> sizes() {
        return chunks.stream().map(Chunk::size).toList();
    }

    /** The sizes as {@link #parse} reads them. */
    public String describeSizes() {
        return String.join(",", sizes().stream().map(String::valueOf).toList());
    }

    public int size() {
        return chunks.size();
    }

    public int maxChunkSize() {
        return chunks.stream().mapToInt(Chunk::size).max().orElse(0);
    }
}
