package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class RopeScalingTest {
    private final RopeScaling llama3 = new RopeScaling(8.0, 1.0, 4.0, 8192);

    @Test
    void keepsHighFrequenciesAndDividesLowOnes() {
        // wavelength 2π/1 ≈ 6.3 positions < 8192/4: unchanged
        assertEquals(1.0, llama3.scale(1.0), 0);
        // wavelength 2π/1e-5 ≈ 628k > 8192: divided by the factor
        assertEquals(1e-5 / 8, llama3.scale(1e-5), 1e-20);
    }

    @Test
    void interpolatesTheMiddleBand() {
        // wavelength 4096: smooth = (8192/4096 - 1) / (4 - 1) = 1/3
        double f = 2 * Math.PI / 4096;
        double expected = (1 - 1.0 / 3) * f / 8 + (1.0 / 3) * f;
        assertEquals(expected, llama3.scale(f), 1e-15);
    }

    @Test
    void validatesParameters() {
        assertThrows(IllegalArgumentException.class, () -> new RopeScaling(0.5, 1, 4, 8192));
        assertThrows(IllegalArgumentException.class, () -> new RopeScaling(8, 4, 1, 8192));
        assertThrows(IllegalArgumentException.class, () -> new RopeScaling(8, 1, 4, 0));
    }
}
