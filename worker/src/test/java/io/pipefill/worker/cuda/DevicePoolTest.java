package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DevicePoolTest {
    @Test
    void allocationsAreAlignedAndDisjoint() {
        DevicePool pool = new DevicePool(1 << 20);
        long a = pool.allocate(1, "a");
        long b = pool.allocate(300, "b");
        long c = pool.allocate(256, "c");
        assertEquals(0, a);
        assertEquals(256, b);
        assertEquals(768, c);
        assertEquals(256 + 512 + 256, pool.usedBytes());
        for (long off : new long[] {a, b, c}) {
            assertEquals(0, off % DevicePool.ALIGNMENT);
        }
    }

    @Test
    void freedNeighboursCoalesceBackToOneRange() {
        DevicePool pool = new DevicePool(4096);
        long a = pool.allocate(1024, "a");
        long b = pool.allocate(1024, "b");
        long c = pool.allocate(1024, "c");
        pool.free(b);
        assertEquals(2, pool.freeRanges());
        pool.free(a);
        assertEquals(2, pool.freeRanges(), "a merges with b's hole");
        pool.free(c);
        assertEquals(1, pool.freeRanges());
        assertEquals(4096, pool.largestFree());
        assertEquals(0, pool.usedBytes());
    }

    @Test
    void firstFitReusesAHole() {
        DevicePool pool = new DevicePool(4096);
        long a = pool.allocate(1024, "a");
        pool.allocate(1024, "b");
        pool.free(a);
        assertEquals(a, pool.allocate(512, "c"));
        assertEquals(a + 512, pool.allocate(512, "d"));
    }

    @Test
    void exhaustionNamesTheAllocationAndTheSizes() {
        DevicePool pool = new DevicePool(1 << 20);
        pool.allocate(900 << 10, "weights");
        String m = assertThrows(IllegalStateException.class, () -> pool.allocate(200 << 10, "KV cache keys")).getMessage();
        assertTrue(m.contains("KV cache keys") && m.contains("largest free block"), m);
    }

    @Test
    void unknownOrDoubleFreesAreRefused() {
        DevicePool pool = new DevicePool(4096);
        long a = pool.allocate(10, "a");
        pool.free(a);
        assertThrows(IllegalArgumentException.class, () -> pool.free(a));
        assertThrows(IllegalArgumentException.class, () -> pool.free(12345));
        assertThrows(IllegalArgumentException.class, () -> pool.allocate(0, "nothing"));
    }
}
