package io.pipefill.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Chunk sizes that shrink as the prefix grows so that every chunk costs about what the first one does
 * (DESIGN.md, "Dynamic chunking"). With target T = f(base) − f(0), a chunk after prefix L solves
 * f(L + x) − f(L) = T, i.e. a·x² + (2aL + b)·x − T = 0; the size is smoothed toward base by σ, kept at
 * least base/4, aligned down to {@code alignment}, and capped by the remaining prompt and {@code maxChunk}.
 */
public record DynamicChunking(int base, double sigma, LatencyFit fit, int maxChunk, int alignment) {

    public static final double DEFAULT_SIGMA = 0.75;

    public DynamicChunking {
        if (base <= 0) {
            throw new IllegalArgumentException("base chunk must be positive, got " + base);
        }
        if (!(sigma >= 0 && sigma <= 1)) {
            throw new IllegalArgumentException("--smooth must be in [0, 1], got " + sigma);
        }
        if (maxChunk < base) {
            throw new IllegalArgumentException("maximum chunk " + maxChunk + " is below the base chunk " + base);
        }
        if (alignment < 1) {
            throw new IllegalArgumentException("alignment must be positive, got " + alignment);
        }
    }

    /** Alignment max(pageSize, 64), as the design prescribes. */
    public static int alignmentFor(int pageSize) {
        return Math.max(pageSize, 64);
    }

    /** The size of the chunk that starts after {@code prefix} tokens, with {@code remaining} tokens left. */
    public int chunkAfter(long prefix, int remaining) {
        if (prefix == 0) {
            return Math.min(base, remaining);
        }
        double a = fit.a();
        double b = fit.b();
        double target = fit.at(base) - fit.at(0);
        double p = 2 * a * prefix + b;
        double xStar = (-p + Math.sqrt(p * p + 4 * a * target)) / (2 * a);
        double x = base + sigma * (xStar - base);
        x = Math.max(x, base / 4.0);
        long aligned = (long) Math.floor(x / alignment) * alignment;
        aligned = Math.max(aligned, alignment);
        return (int) Math.min(Math.min(aligned, maxChunk), remaining);
    }

    public ChunkSchedule schedule(int promptTokens) {
        List<Chunk> chunks = new ArrayList<>();
        int offset = 0;
        while (offset < promptTokens) {
            int size = chunkAfter(offset, promptTokens - offset);
            chunks.add(new Chunk(chunks.size(), offset, size));
            offset += size;
        }
        return new ChunkSchedule(promptTokens, chunks);
    }
}
