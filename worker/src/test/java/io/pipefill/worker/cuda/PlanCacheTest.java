package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The bounded cache cuDNN attention keeps its plans in: LRU eviction that releases, pins that survive it. */
class PlanCacheTest {
    private final List<String> released = new ArrayList<>();

    private PlanCache<String, String> cache(int bound) {
        return new PlanCache<>(bound, released::add);
    }

    @Test
    void evictsTheLeastRecentlyUsedBeyondTheBoundAndReleasesIt() {
        PlanCache<String, String> c = cache(2);
        c.put("a", "plan a");
        c.put("b", "plan b");
        assertEquals("plan a", c.get("a"), "a is now the most recently used");
        c.put("c", "plan c");
        assertEquals(List.of("plan b"), released);
        assertNull(c.get("b"));
        assertTrue(c.contains("a") && c.contains("c"));
        assertEquals(2, c.size());
    }

    @Test
    void containsDoesNotRefreshRecency() {
        PlanCache<String, String> c = cache(2);
        c.put("a", "plan a");
        c.put("b", "plan b");
        assertTrue(c.contains("a"));
        c.put("c", "plan c");
        assertEquals(List.of("plan a"), released, "a was only looked at, not used");
    }

    /** A run's prepared shapes stay while decode steps or a profile plan many others. */
    @Test
    void pinnedPlansSurviveAnyNumberOfOthersUntilUnpinned() {
        PlanCache<String, String> c = cache(2);
        c.pinOnly(Set.of("chunk 0", "chunk 1", "chunk 2"));
        c.put("chunk 0", "p0");
        c.put("chunk 1", "p1");
        c.put("chunk 2", "p2");
        assertEquals(List.of(), released, "pinned plans do not count toward the bound");
        for (int t = 0; t < 10; t++) {
            c.put("decode " + t, "d" + t);
        }
        assertEquals(List.of("d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"), released);
        assertEquals(5, c.size());
        assertEquals(3, c.pinnedCount());
        assertSame("p1", c.get("chunk 1"));
        released.clear();
        // the next run pins its own shapes: the old ones become ordinary entries and are evicted oldest first
        c.pinOnly(Set.of("chunk 1"));
        assertEquals(List.of("p0", "p2"), released);
        assertEquals(List.of("chunk 1", "decode 8", "decode 9"), keys(c, "chunk 0", "chunk 1", "chunk 2", "decode 8", "decode 9"));
    }

    @Test
    void closeReleasesEverythingPinnedOrNot() {
        PlanCache<String, String> c = cache(4);
        c.pinOnly(Set.of("a"));
        c.put("a", "plan a");
        c.put("b", "plan b");
        c.close();
        assertEquals(List.of("plan a", "plan b"), released);
        assertEquals(0, c.size());
    }

    @Test
    void aReleaseThatFailsLeaksNoOtherPlan() { // e.g. the stream sync before a release reports a CUDA error
        PlanCache<String, String> c = new PlanCache<>(4, p -> {
            released.add(p);
            if (p.equals("plan a")) {
                throw new IllegalStateException("sync failed");
            }
        });
        c.put("a", "plan a");
        c.put("b", "plan b");
        c.put("c", "plan c");
        var e = assertThrows(IllegalStateException.class, c::close);
        assertEquals("sync failed", e.getMessage());
        assertEquals(List.of("plan a", "plan b", "plan c"), released);
        assertEquals(0, c.size());
    }

    @Test
    void aSecondPlanForOneKeyAndAnEmptyBoundAreRefused() {
        PlanCache<String, String> c = cache(1);
        c.put("a", "plan a");
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> c.put("a", "other"));
        assertTrue(twice.getMessage().contains("a plan for a is cached already"), twice.getMessage());
        assertEquals(List.of(), released, "the cached plan is neither replaced nor released");
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> cache(0));
        assertTrue(zero.getMessage().contains("at least one unpinned plan, got a bound of 0"), zero.getMessage());
    }

    private static List<String> keys(PlanCache<String, String> c, String... candidates) {
        List<String> in = new ArrayList<>();
        for (String k : candidates) {
            if (c.contains(k)) {
                in.add(k);
            }
        }
        return in;
    }
}
