package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.comm.ActivationLink;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The device-local link's argument checks, which come before any CUDA call (so they run here, and load no CUDA
 * library: the fabric is created by name as InProcessPipeline creates it).
 */
class DeviceLocalLinkArgumentsTest {
    @Test
    void peersOutsideTheWorldOrItselfAreRefusedBeforeAnyDeviceWork() {
        try (ActivationLink.Fabric f = Backends.deviceLocalLinks(2, Duration.ofSeconds(1))) {
            ActivationLink a = f.endpoint(0);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.send(0, null, 1)).getMessage()
                    .contains("rank 0 cannot send to itself"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.receive(2, null, 1)).getMessage()
                    .contains("receive from rank 2 is outside the world of 2 ranks"));
            assertThrows(IllegalArgumentException.class, () -> f.endpoint(2));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DeviceLocalLink.Fabric(2, Duration.ZERO))
                .getMessage().contains("must be positive"));
        assertThrows(IllegalArgumentException.class, () -> new DeviceLocalLink.Fabric(0, Duration.ofSeconds(1)));
    }
}
