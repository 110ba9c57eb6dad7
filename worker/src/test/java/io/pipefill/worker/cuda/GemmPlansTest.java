package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.cuda.GemmShape.Element;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GemmPlansTest {
    /** Stands in for a plan of descriptors: records that it was made and closed. */
    private static final class FakePlan implements AutoCloseable {
        final GemmShape shape;
        boolean closed;

        FakePlan(GemmShape shape) {
            this.shape = shape;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static GemmShape shape(int rows) {
        return new GemmShape(rows, 4096, 6144, false, Element.BF16, 256);
    }

    @Test
    void heuristicRunsOncePerShapeAcrossLayersAndChunks() {
        List<GemmShape> made = new ArrayList<>();
        try (GemmPlans<FakePlan> plans = new GemmPlans<>(16)) {
            for (int layer = 0; layer < 32; layer++) {
                for (int rows : new int[] {8192, 8192, 2048, 8192, 1337}) {
                    plans.get(shape(rows), s -> {
                        made.add(s);
                        return new FakePlan(s);
                    });
                }
            }
            assertEquals(List.of(shape(8192), shape(2048), shape(1337)), made);
            assertEquals(3, plans.size());
            assertEquals(3, plans.misses());
            assertEquals(32 * 5 - 3, plans.hits());
        }
    }

    @Test
    void evictsTheLeastRecentlyUsedAndClosesIt() {
        GemmPlans<FakePlan> plans = new GemmPlans<>(2);
        FakePlan a = plans.get(shape(1), FakePlan::new);
        FakePlan b = plans.get(shape(2), FakePlan::new);
        assertSame(a, plans.get(shape(1), FakePlan::new));  // 1 is now the most recent
        plans.get(shape(3), FakePlan::new);
        assertTrue(b.closed);
        assertNull(plans.peek(shape(2)));
        assertSame(a, plans.peek(shape(1)));
        assertEquals(1, plans.evictions());
        plans.close();
        assertTrue(a.closed);
        assertEquals(0, plans.size());
    }

    @Test
    void aFailedPlanIsNotCached() {
        GemmPlans<FakePlan> plans = new GemmPlans<>(4);
        assertThrows(IllegalStateException.class, () -> plans.get(shape(5), s -> {
            throw new IllegalStateException("no algorithm");
        }));
        assertEquals(0, plans.size());
        assertEquals(5, plans.get(shape(5), FakePlan::new).shape.rows());
    }

    @Test
    void usableCandidatesKeepTheHeuristicOrder() {
        long mib = 1 << 20;
        assertArrayEquals(new int[] {0, 2, 4},
                GemmPlans.usable(new int[] {0, 15, 0, 0, 0}, new long[] {0, 0, 32 * mib, 64 * mib, 4 * mib}, 32 * mib));
        assertArrayEquals(new int[0], GemmPlans.usable(new int[0], new long[0], 32 * mib));
        assertThrows(IllegalArgumentException.class, () -> GemmPlans.usable(new int[1], new long[2], 0));
        assertThrows(IllegalArgumentException.class, () -> new GemmPlans<FakePlan>(0));
    }
}
