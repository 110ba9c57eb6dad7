package io.pipefill.worker.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which attention implementation a stage actually ran, chunk by chunk, against the one it was asked for: a CUDA
 * stage asked for cuDNN or wgmma falls back to the flash kernel for a shape those do not cover, and a throughput
 * figure is only worth reporting with the implementation that produced it. The stage opens a chunk
 * ({@link #beginChunk}), records each layer's attention call ({@link #layer}) and closes it ({@link #endChunk});
 * {@link #report} sums it up since the stage was loaded (the decode steps and any profile chunks included: every
 * forward pass through the stage).
 *
 * <p>A chunk counts toward every implementation one of its layers ran on. Each distinct (implementation, reason)
 * of a fallback is listed once with the chunks it covered, at most {@link #MAX_LISTED} of them so that a
 * long-lived stage stays bounded; chunks of further ones are only counted. Synchronized: a report may be read from another
 * thread than the stage's.
 */
public final class AttentionUsage {
    /** Distinct fallbacks listed in a report; chunks of further ones are counted in {@link Report#fallbackChunksNotListed}. */
    public static final int MAX_LISTED = 16;

    /**
     * What ran, for the JSON reports.
     *
     * @param requested          the implementation the stage was asked for (CUDA: -Dpipefill.cuda.attention's value)
     * @param used               per implementation that ran, in order of first use
     * @param fallbacks          each distinct implementation other than the requested one that ran, with its reason
     * @param fallbackChunksNotListed chunks of the distinct fallbacks past {@link #MAX_LISTED}, counted only
     */
    public record Report(String requested, Map<String, Use> used, List<Fallback> fallbacks, long fallbackChunksNotListed) {
        public Report {
            used = Collections.unmodifiableMap(new LinkedHashMap<>(used));
            fallbacks = List.copyOf(fallbacks);
        }

        /** True when some chunk ran on another implementation than the requested one. */
        public boolean fellBack() {
            return !fallbacks.isEmpty() || fallbackChunksNotListed > 0;
        }
    }

    /**
     * @param chunks     forward passes that ran this implementation in at least one layer
     * @param tokens     the rows of those passes
     * @param layerCalls attention calls (layers × chunks) on it
     */
    public record Use(long chunks, long tokens, long layerCalls) {
    }

    /**
     * @param implementation what ran instead of the requested one
     * @param reason         why (the requested implementation's refusal, or why it could not be loaded)
     * @param chunks         chunks it covered
     * @param firstPosition  the first position of the first such chunk
     */
    public record Fallback(String implementation, String reason, long chunks, int firstPosition) {
    }

    private record FallbackKey(String implementation, String reason) {
    }

    private final String requested;
    private final Map<String, long[]> used = new LinkedHashMap<>();
    private final Map<FallbackKey, long[]> fallbacks = new LinkedHashMap<>();
    private long fallbackChunksNotListed;
    /** The open chunk's implementations and fallbacks; null between chunks. */
    private Set<String> chunkImplementations;
    private Set<FallbackKey> chunkFallbacks;
    private int chunkPosition;
    private int chunkRows;

    public AttentionUsage(String requested) {
        this.requested = requireName("requested", requested);
    }

    public String requested() {
        return requested;
    }

    /** Opens a chunk of {@code rows} positions at {@code position}; an unclosed previous chunk is closed first. */
    public synchronized void beginChunk(int position, int rows) {
        if (position < 0 || rows <= 0) {
            throw new IllegalArgumentException("a chunk needs position >= 0 and rows > 0, got position " + position
                    + ", rows " + rows);
        }
        if (chunkImplementations != null) {
            endChunk();
        }
        chunkImplementations = new LinkedHashSet<>();
        chunkFallbacks = new LinkedHashSet<>();
        chunkPosition = position;
        chunkRows = rows;
    }

    /**
     * One layer's attention of the open chunk ran on {@code implementation}; {@code whyNotRequested} says why when
     * that is not the requested one (ignored when it is; "no reason recorded" stands in when missing).
     */
    public synchronized void layer(String implementation, String whyNotRequested) {
        requireName("implementation", implementation);
        if (chunkImplementations == null) {
            throw new IllegalStateException("attention ran on " + implementation + " outside a chunk: call beginChunk first");
        }
        chunkImplementations.add(implementation);
        used.computeIfAbsent(implementation, k -> new long[3])[2]++;
        if (!implementation.equals(requested)) {
            String reason = whyNotRequested == null || whyNotRequested.isBlank() ? "no reason recorded" : whyNotRequested;
            chunkFallbacks.add(new FallbackKey(implementation, reason));
        }
    }

    /** Closes the open chunk (nothing to do if none is open: a chunk that failed before its first layer). */
    public synchronized void endChunk() {
        if (chunkImplementations == null) {
            return;
        }
        for (String impl : chunkImplementations) {
            long[] u = used.get(impl);
            u[0]++;
            u[1] += chunkRows;
        }
        for (FallbackKey k : chunkFallbacks) {
            long[] f = fallbacks.get(k);
            if (f != null) {
                f[0]++;
            } else if (fallbacks.size() < MAX_LISTED) {
                fallbacks.put(k, new long[] {1, chunkPosition});
            } else {
                fallbackChunksNotListed++;
            }
        }
        chunkImplementations = null;
        chunkFallbacks = null;
    }

    public synchronized Report report() {
        Map<String, Use> u = new LinkedHashMap<>();
        used.forEach((k, v) -> u.put(k, new Use(v[0], v[1], v[2])));
        List<Fallback> f = new ArrayList<>();
        fallbacks.forEach((k, v) -> f.add(new Fallback(k.implementation(), k.reason(), v[0], (int) v[1])));
        return new Report(requested, u, f, fallbackChunksNotListed);
    }

    private static String requireName(String what, String name) {
        if (Objects.requireNonNull(name, what).isBlank()) {
            throw new IllegalArgumentException(what + " attention implementation must be named, got '" + name + "'");
        }
        return name;
    }
}
