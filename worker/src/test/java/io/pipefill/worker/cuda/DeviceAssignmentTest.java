package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Rank r of a single-node CUDA pipeline takes GPU r; plain Java, no CUDA class loaded. */
class DeviceAssignmentTest {
    @Test
    void rankRTakesDeviceR() {
        assertEquals(0, DeviceAssignment.deviceFor(0, 1, 1));
        assertEquals(0, DeviceAssignment.deviceFor(0, 4, 8));
        assertEquals(3, DeviceAssignment.deviceFor(3, 4, 4));
        assertEquals(5, DeviceAssignment.deviceFor(5, 8, 8));
        DeviceAssignment.requireDevices(2, 2);
        DeviceAssignment.requireDevices(2, 8);
    }

    @Test
    void tooFewGpusIsRefusedNamingBothCountsAndTheWayOut() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DeviceAssignment.deviceFor(1, 2, 1));
        assertTrue(e.getMessage().contains("of 2 worker processes needs 2 GPUs"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA sees 1"), e.getMessage());
        assertTrue(e.getMessage().contains("rank r uses GPU r"), e.getMessage());
        assertTrue(e.getMessage().contains("--in-process"), "the one-GPU alternative is named: " + e.getMessage());
        // rank 0 fails too: the check is about the pipeline, not only the ranks beyond the last GPU
        assertThrows(IllegalStateException.class, () -> DeviceAssignment.deviceFor(0, 4, 2));
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> DeviceAssignment.requireDevices(2, 0));
        assertTrue(none.getMessage().contains("CUDA sees 0"), none.getMessage());
    }

    @Test
    void malformedArgumentsAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceAssignment.deviceFor(2, 2, 4)).getMessage()
                .contains("rank 2 is outside a pipeline of 2 ranks"));
        assertThrows(IllegalArgumentException.class, () -> DeviceAssignment.deviceFor(-1, 2, 4));
        assertThrows(IllegalArgumentException.class, () -> DeviceAssignment.deviceFor(0, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> DeviceAssignment.requireDevices(1, -1));
    }
}
