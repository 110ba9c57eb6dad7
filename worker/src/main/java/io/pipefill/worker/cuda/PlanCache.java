package io.pipefill.worker.cuda;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Execution plans by key, bounded for long-lived workers: at most {@code bound} plans besides the pinned ones, the
 * least recently used evicted first and handed to {@code release}, which frees its native resources. Pinned keys
 * are those a stage was prepared for (the shapes of the run's chunks, planned before its clock starts): they stay
 * however many other shapes are planned meanwhile (decode steps, a chunking profile), until the next
 * {@link #pinOnly}. Plain Java, so eviction is unit-tested without a GPU; not thread-safe, like its one user (a
 * stage's cuDNN attention, used from the stage's thread).
 */
final class PlanCache<K, V> implements AutoCloseable {
    private final int bound;
    private final Consumer<? super V> release;
    /** Access order: iteration starts at the least recently used. */
    private final LinkedHashMap<K, V> plans = new LinkedHashMap<>(16, 0.75f, true);
    private final Set<K> pinned = new HashSet<>();

    PlanCache(int bound, Consumer<? super V> release) {
        if (bound < 1) {
            throw new IllegalArgumentException("a plan cache must hold at least one unpinned plan, got a bound of " + bound);
        }
        this.bound = bound;
        this.release = release;
    }

    /** The cached plan for {@code key}, now the most recently used; null when none is cached. */
    V get(K key) {
        return plans.get(key);
    }

    /** Whether a plan is cached for {@code key}; the recency order is left as it is. */
    boolean contains(K key) {
        return plans.containsKey(key);
    }

    /** Caches {@code plan} (none may be cached for {@code key} yet), then evicts unpinned plans down to the bound. */
    void put(K key, V plan) {
        if (plans.containsKey(key)) {
            throw new IllegalStateException("a plan for " + key + " is cached already");
        }
        plans.put(key, plan);
        evict();
    }

    /**
     * Pins exactly {@code keys} (one not cached yet is pinned once it is put) and unpins every other, then evicts
     * unpinned plans down to the bound.
     */
    void pinOnly(Collection<? extends K> keys) {
        pinned.clear();
        pinned.addAll(keys);
        evict();
    }

    int size() {
        return plans.size();
    }

    /** Cached plans that are pinned. */
    int pinnedCount() {
        int n = 0;
        for (K k : plans.keySet()) {
            n += pinned.contains(k) ? 1 : 0;
        }
        return n;
    }

    int bound() {
        return bound;
    }

    private void evict() {
        int unpinned = plans.size() - pinnedCount();
        List<V> out = new ArrayList<>();
        Iterator<Map.Entry<K, V>> it = plans.entrySet().iterator();
        while (unpinned > bound && it.hasNext()) {
            Map.Entry<K, V> e = it.next();
            if (!pinned.contains(e.getKey())) {
                it.remove();
                unpinned--;
                out.add(e.getValue());
            }
        }
        releaseAll(out);
    }

    /** Releases every one of {@code out}, even when one release fails (the first failure is thrown after). */
    private void releaseAll(List<V> out) {
        RuntimeException first = null;
        for (V v : out) {
            try {
                release.accept(v);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Releases every plan, pinned ones included, oldest first. */
    @Override
    public void close() {
        List<V> out = new ArrayList<>(plans.values());
        plans.clear();
        releaseAll(out);
        pinned.clear();
    }
}
