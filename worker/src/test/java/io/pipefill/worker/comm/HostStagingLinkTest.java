package io.pipefill.worker.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.engine.Activations;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The default activation link: host floats over a transport, as StageWorker did before the seam. */
class HostStagingLinkTest {
    /** Plain host rows, counting the copies in. */
    static final class Rows implements Activations {
        final float[] data;
        final int width;
        int copiesIn;

        Rows(int maxTokens, int width) {
            this.data = new float[maxTokens * width];
            this.width = width;
        }

        @Override
        public int maxTokens() {
            return data.length / width;
        }

        @Override
        public int width() {
            return width;
        }

        @Override
        public void copyToHost(int rows, float[] dst) {
            System.arraycopy(data, 0, dst, 0, rows * width);
        }

        @Override
        public void copyFromHost(int rows, float[] src) {
            copiesIn++;
            System.arraycopy(src, 0, data, 0, rows * width);
        }

        @Override
        public void close() {
        }
    }

    private static Rows filled(int rows, int width, float base) {
        Rows r = new Rows(rows, width);
        for (int i = 0; i < r.data.length; i++) {
            r.data[i] = base + i;
        }
        return r;
    }

    @Test
    void rowsArriveInFifoOrderAndTheSourceIsFreeAtOnce() {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
        ActivationLink a = ActivationLink.hostStaging(f.endpoint(0));
        ActivationLink b = ActivationLink.hostStaging(f.endpoint(1));
        Rows src = filled(3, 4, 0);
        Handle s1 = a.send(1, src, 3);
        Arrays.fill(src.data, -1);  // staged at send: changing the source now does not change what travels
        Handle s2 = a.send(1, filled(2, 4, 100), 2);
        Rows d1 = new Rows(3, 4);
        Rows d2 = new Rows(3, 4);
        Handle r1 = b.receive(0, d1, 3);
        Handle r2 = b.receive(0, d2, 2);
        r2.await();
        r1.await();
        s1.await();
        s2.await();
        assertArrayEquals(filled(3, 4, 0).data, d1.data);
        assertArrayEquals(Arrays.copyOf(filled(2, 4, 100).data, 12), d2.data);
        assertEquals(1, d1.copiesIn);
    }

    @Test
    void theDestinationIsWrittenOnlyOnceTheReceiveIsAwaitedOrPolled() {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
        ActivationLink b = ActivationLink.hostStaging(f.endpoint(1));
        Rows dst = new Rows(1, 2);
        Handle r = b.receive(0, dst, 1);
        ActivationLink.hostStaging(f.endpoint(0)).send(1, filled(1, 2, 7), 1).await();
        assertEquals(0, dst.copiesIn, "arrived, but the copy belongs to the receiving thread");
        r.await();
        r.await();
        assertEquals(1, dst.copiesIn, "copied once");
        assertArrayEquals(new float[] {7, 8}, dst.data);
    }

    /** A CPU rank waiting for its peer must leave the core to the peer, not spin on the receive. */
    @Test
    void aWaitingReceiveBlocksInsteadOfSpinning() throws Exception {
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        org.junit.jupiter.api.Assumptions.assumeTrue(threads.isCurrentThreadCpuTimeSupported(), "no thread CPU time here");
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
        ActivationLink b = ActivationLink.hostStaging(f.endpoint(1));
        Rows dst = new Rows(1, 2);
        Handle r = b.receive(0, dst, 1);
        Thread sender = new Thread(() -> {
            try {
                Thread.sleep(600);
            } catch (InterruptedException e) {
                return;
            }
            ActivationLink.hostStaging(f.endpoint(0)).send(1, filled(1, 2, 7), 1).await();
        });
        sender.start();
        long cpu0 = threads.getCurrentThreadCpuTime();
        r.await();
        double cpuMs = (threads.getCurrentThreadCpuTime() - cpu0) / 1e6;
        sender.join();
        assertArrayEquals(new float[] {7, 8}, dst.data);
        assertTrue(cpuMs < 15, "the awaiting thread used " + cpuMs + " ms of CPU over a 600 ms wait");
    }

    @Test
    void hostBuffersAreRecycled() {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
        HostStagingLink a = new HostStagingLink(f.endpoint(0));
        HostStagingLink b = new HostStagingLink(f.endpoint(1));
        Rows src = filled(8, 16, 0);
        Rows dst = new Rows(8, 16);
        for (int i = 0; i < 50; i++) {
            Handle r = b.receive(0, dst, 8 - i % 3);
            a.send(1, src, 8 - i % 3).await();
            r.await();
        }
        assertTrue(a.buffersHeld() <= 2, "sender holds " + a.buffersHeld());
        assertTrue(b.buffersHeld() <= 2, "receiver holds " + b.buffersHeld());
    }

    @Test
    void aSilentPeerTimesOutNamingItAndWrongSizesAreNamed() {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(2, Duration.ofMillis(200));
        ActivationLink b = ActivationLink.hostStaging(f.endpoint(1));
        Handle r = b.receive(0, new Rows(2, 4), 2);
        String m = assertThrows(TransportException.class, r::await).getMessage();
        assertTrue(m.contains("receive from rank 0") && m.contains("200 ms"), m);

        InProcessTransport.Fabric g = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
        Handle wrong = ActivationLink.hostStaging(g.endpoint(1)).receive(0, new Rows(2, 4), 2);
        ActivationLink.hostStaging(g.endpoint(0)).send(1, filled(1, 4, 0), 1);
        m = assertThrows(TransportException.class, wrong::await).getMessage();
        assertTrue(m.contains("from rank 0 to rank 1") && m.contains("message of 4 floats"), m);
    }
}
