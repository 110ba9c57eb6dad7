package io.pipefill.worker.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The host side of {@link CublasLtMatmul}'s plan cache, kept free of CUDA types so it is tested without a
 * GPU: least-recently-used over {@link GemmShape}, closing what it evicts, and counting hits and misses so the
 * probe can show that the heuristic ran once per shape.
 *
 * <p>Bounded because dynamic chunking makes the row count, and so the key, vary from chunk to chunk; a plan
 * is a few hundred bytes of host memory, so the bound only guards a pathological run.
 */
final class GemmPlans<P extends AutoCloseable> implements AutoCloseable {
    private final int capacity;
    private final LinkedHashMap<GemmShape, P> plans;
    private long hits;
    private long misses;
    private long evictions;

    GemmPlans(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("plan cache capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.plans = new LinkedHashMap<>(16, 0.75f, true);
    }

    /** The plan for {@code shape}, made by {@code make} on a miss (its exception propagates, nothing is cached). */
    P get(GemmShape shape, Function<GemmShape, P> make) {
        P p = plans.get(shape);
        if (p != null) {
            hits++;
            return p;
        }
        misses++;
        p = make.apply(shape);
        if (p == null) {
            throw new IllegalStateException("no plan made for GEMM " + shape.describe());
        }
        plans.put(shape, p);
        if (plans.size() > capacity) {
            Map.Entry<GemmShape, P> eldest = plans.entrySet().iterator().next();
            plans.remove(eldest.getKey());
            evictions++;
            closeQuietly(eldest.getValue());
        }
        return p;
    }

    /** The cached plan, or null; counts neither a hit nor a miss. */
    P peek(GemmShape shape) {
        return plans.get(shape);
    }

    int size() {
        return plans.size();
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }

    long evictions() {
        return evictions;
    }

    @Override
    public void close() {
        List<P> all = new ArrayList<>(plans.values());
        plans.clear();
        all.forEach(GemmPlans::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // destroying descriptors only fails on a handle already gone; nothing to do about it here
        }
    }

    /**
     * Indices of the heuristic results worth trying, best first (the heuristic's own order): those whose
     * state is CUBLAS_STATUS_SUCCESS (0) and whose workspace fits the one we have.
     */
    static int[] usable(int[] states, long[] workspaceBytes, long workspaceLimit) {
        if (states.length != workspaceBytes.length) {
            throw new IllegalArgumentException(states.length + " states but " + workspaceBytes.length + " workspace sizes");
        }
        List<Integer> ok = new ArrayList<>();
        for (int i = 0; i < states.length; i++) {
            if (states[i] == 0 && workspaceBytes[i] <= workspaceLimit) {
                ok.add(i);
            }
        }
        return ok.stream().mapToInt(Integer::intValue).toArray();
    }
}
