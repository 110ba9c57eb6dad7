package io.pipefill.worker.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Handles completed by the awaiting thread's polling: how device events (CUDA, NCCL) complete. */
class PolledHandleTest {
    @Test
    void completesWhenThePollSaysSo() {
        AtomicInteger polls = new AtomicInteger();
        Handle h = new Handle("copy", Duration.ofSeconds(5), () -> polls.incrementAndGet() >= 3);
        h.await();
        assertTrue(h.isDone());
        assertEquals(3, polls.get());
        h.await();
        assertEquals(3, polls.get(), "not polled again once done");
    }

    @Test
    void aTimeoutCallsTheHookOnceWithinTheBound() {
        AtomicInteger hooks = new AtomicInteger();
        Handle h = new Handle("receive from rank 3", Duration.ofMillis(150), new Handle.Progress() {
            @Override
            public boolean poll() {
                return false;
            }

            @Override
            public void timedOut() {
                hooks.incrementAndGet();
            }
        });
        long t0 = System.nanoTime();
        String m = assertThrows(TransportException.class, h::await).getMessage();
        double ms = (System.nanoTime() - t0) / 1e6;
        assertEquals("receive from rank 3 did not complete within 150 ms", m);
        assertTrue(ms >= 150 && ms < 2000, ms + " ms");
        assertEquals(1, hooks.get());
        assertThrows(TransportException.class, h::await);
        assertEquals(1, hooks.get(), "the hook (an abort) runs once");
    }

    @Test
    void theHookMayReplaceTheErrorAndPollFailuresPropagate() {
        Handle h = new Handle("recv", Duration.ofMillis(10), new Handle.Progress() {
            @Override
            public boolean poll() {
                return false;
            }

            @Override
            public void timedOut() {
                throw new TransportException("recv from rank 1: aborted the communicator");
            }
        });
        assertEquals("recv from rank 1: aborted the communicator", assertThrows(TransportException.class, h::await).getMessage());
        Handle bad = new Handle("send to rank 2", Duration.ofSeconds(5), () -> {
            throw new IllegalStateException("CUDA error 700");
        });
        String m = assertThrows(TransportException.class, bad::await).getMessage();
        assertTrue(m.contains("send to rank 2") && m.contains("CUDA error 700"), m);
    }
}
