package io.pipefill.worker.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.worker.comm.InProcessTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Every rank gets rank 0's epoch, exactly (a control message, not floats). */
class SharedRunClockTest {
    @Test
    void everyRankGetsRankZerosEpoch() throws Exception {
        InProcessTransport.Fabric fabric = new InProcessTransport.Fabric(3, Duration.ofSeconds(10));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<RunClock>> clocks = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                int rank = r;
                clocks.add(pool.submit(() -> new SharedRunClock(fabric.endpoint(rank)).awaitStart()));
            }
            long epoch = clocks.get(0).get().epochMicros();
            assertEquals(epoch, clocks.get(1).get().epochMicros());
            assertEquals(epoch, clocks.get(2).get().epochMicros());
        } finally {
            pool.shutdownNow();
        }
    }
}
