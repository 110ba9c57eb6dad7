package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PoolShareTest {
    private static final long GIB = 1L << 30;

    @Test
    void aloneOnTheGpuAPoolTakesNinetyPercentAsBefore() {
        assertEquals(0.90, PoolShare.fraction(1));
        assertEquals((long) (100 * GIB * 0.90), PoolShare.poolBytes(100 * GIB, 0, PoolShare.fraction(1)));
    }

    @Test
    void stagesOfOneProcessSplitTheMemoryEvenlyWhateverTheOrderTheyStartIn() {
        double f = PoolShare.fraction(2);
        assertEquals(0.45, f, 1e-12);
        long first = PoolShare.poolBytes(100 * GIB, 0, f);
        // the second sees what the first left free, plus what the first holds; 1 GiB went to the first's context
        long second = PoolShare.poolBytes(100 * GIB - first - GIB, first, f);
        assertTrue(Math.abs(first - second) <= GIB, first + " vs " + second);
        assertTrue(first + second <= 100 * GIB * 0.90 + 1, "together at most 90 %");
        // four stages
        long held = 0;
        long free = 100 * GIB;
        for (int i = 0; i < 4; i++) {
            long p = PoolShare.poolBytes(free, held, PoolShare.fraction(4));
            assertEquals(22.5 * GIB, p, GIB * 0.01 + 1);
            held += p;
            free -= p;
        }
    }

    @Test
    void neverMoreThanIsFreeAndFractionsAreChecked() {
        assertEquals(GIB, PoolShare.poolBytes(GIB, 100 * GIB, 0.5), "capped at the free memory");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolShare.fraction(0)).getMessage()
                .contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolShare.poolBytes(GIB, 0, 0.95)).getMessage()
                .contains("(0, 0.9]"));
        assertThrows(IllegalArgumentException.class, () -> PoolShare.poolBytes(GIB, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> PoolShare.poolBytes(-1, 0, 0.5));
    }
}
