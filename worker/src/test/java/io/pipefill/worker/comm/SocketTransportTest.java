package io.pipefill.worker.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Real loopback sockets between two ranks in one JVM. */
class SocketTransportTest {
    private static String who(int r) {
        return "rank " + r;
    }

    private static final RunSecret SECRET = RunSecret.generate();
    private static final SocketTransport.Admission ADMIT = SocketTransport.Admission.of(SECRET, 1 << 16);

    private static SocketTransport connect(int rank, ServerSocket listener, List<InetSocketAddress> addrs,
                                           Duration connectTimeout, Duration timeout) {
        return SocketTransport.connect(rank, listener, addrs, connectTimeout, timeout, SocketTransportTest::who, ADMIT);
    }

    private static SocketTransport[] pair(Duration timeout) throws Exception {
        ServerSocket l0 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        ServerSocket l1 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        List<InetSocketAddress> addrs = List.of(new InetSocketAddress("127.0.0.1", l0.getLocalPort()),
                new InetSocketAddress("127.0.0.1", l1.getLocalPort()));
        CompletableFuture<SocketTransport> t0 = CompletableFuture.supplyAsync(
                () -> connect(0, l0, addrs, Duration.ofSeconds(5), timeout));
        SocketTransport t1 = connect(1, l1, addrs, Duration.ofSeconds(5), timeout);
        return new SocketTransport[] {t0.get(), t1};
    }

    @Test
    void sendsArriveInOrderAndAllReduceAgrees() throws Exception {
        SocketTransport[] t = pair(Duration.ofSeconds(5));
        try {
            float[] a = {1, 2, 3};
            float[] b = {4, 5, 6};
            Handle s1 = t[1].isend(0, Transport.CHANNEL_HIDDEN, a, 3);
            Handle s2 = t[1].isend(0, Transport.CHANNEL_HIDDEN, b, 3);
            float[] first = new float[3];
            float[] second = new float[3];
            Handle r1 = t[0].irecv(1, Transport.CHANNEL_HIDDEN, first, 3);
            Handle r2 = t[0].irecv(1, Transport.CHANNEL_HIDDEN, second, 3);
            r1.await();
            r2.await();
            s1.await();
            s2.await();
            assertArrayEquals(a, first);
            assertArrayEquals(b, second);

            float[] x0 = {1.5f, -2f};
            float[] x1 = {0.25f, 8f};
            CompletableFuture<Void> other = CompletableFuture.runAsync(() -> t[1].allReduceSum(new int[] {0, 1}, x1, 2));
            t[0].allReduceSum(new int[] {0, 1}, x0, 2);
            other.get();
            assertArrayEquals(new float[] {1.75f, 6f}, x0);
            assertArrayEquals(x0, x1);

            float[] root = {3f, 1f, 4f};
            float[] copy = new float[3];
            CompletableFuture<Void> receiver = CompletableFuture.runAsync(() -> {
                t[1].broadcast(0, new int[] {0, 1}, copy, 3);
                t[1].barrier(new int[] {0, 1});
            });
            t[0].broadcast(0, new int[] {0, 1}, root, 3);
            t[0].barrier(new int[] {0, 1});
            receiver.get();
            assertArrayEquals(root, copy);
        } finally {
            t[0].close();
            t[1].close();
        }
    }

    record Greeting(String text, long number, double[] values) {
    }

    /** Control messages: records in order, between float frames on the same connection; lost or silent peers named. */
    @Test
    void controlMessagesArriveAsTheRecordsTheyWere() throws Exception {
        SocketTransport[] t = pair(Duration.ofSeconds(5));
        try {
            Greeting first = new Greeting("epoch", Long.MAX_VALUE - 7, new double[] {1e-7, Math.PI});
            float[] between = {1.5f, -2f};
            t[1].isend(0, Transport.CHANNEL_HIDDEN, between, 2);
            t[1].send(0, first);
            t[1].send(0, new Greeting("second", 2, new double[0]));
            float[] got = new float[2];
            t[0].irecv(1, Transport.CHANNEL_HIDDEN, got, 2).await();
            assertArrayEquals(between, got);
            Greeting back = t[0].receive(1, Greeting.class);
            assertTrue(back.text().equals("epoch") && back.number() == Long.MAX_VALUE - 7, back.toString());
            assertArrayEquals(first.values(), back.values());
            assertTrue(t[0].receive(1, Greeting.class)
                    .text().equals("second"));
            assertThrows(IllegalArgumentException.class,
                    () -> t[1].sendMessage(0, Transport.CHANNEL_CONTROL, new byte[(1 << 20) + 1]));
        } finally {
            t[0].close();
            t[1].close();
        }
        SocketTransport[] quiet = pair(Duration.ofMillis(300));
        try {
            String m = assertThrows(TransportException.class, () -> quiet[0].receiveMessage(1, Transport.CHANNEL_CONTROL))
                    .getMessage();
            assertTrue(m.contains("no control message from rank 1 on channel 5 within"), m);
            quiet[1].close();
            m = assertThrows(TransportException.class, () -> quiet[0].receiveMessage(1, Transport.CHANNEL_CONTROL))
                    .getMessage();
            assertTrue(m.contains("lost rank 1") || m.contains("no control message"), m);
        } finally {
            quiet[0].close();
            quiet[1].close();
        }
    }

    @Test
    void wrongSizeIsAnErrorNamingThePeer() throws Exception {
        SocketTransport[] t = pair(Duration.ofSeconds(5));
        try {
            t[1].isend(0, Transport.CHANNEL_HIDDEN, new float[10], 10);
            Handle r = t[0].irecv(1, Transport.CHANNEL_HIDDEN, new float[12], 12);
            String m = assertThrows(TransportException.class, r::await).getMessage();
            assertTrue(m.contains("from rank 1 on channel 1: message of 10 floats, but the receive expects 12"), m);
        } finally {
            t[0].close();
            t[1].close();
        }
    }

    @Test
    void aClosedPeerFailsPendingReceivesWithItsName() throws Exception {
        SocketTransport[] t = pair(Duration.ofSeconds(20));
        Handle r = t[0].irecv(1, Transport.CHANNEL_HIDDEN, new float[4], 4);
        t[1].close();
        long t0 = System.nanoTime();
        String m = assertThrows(TransportException.class, r::await).getMessage();
        assertTrue(m.contains("lost rank 1 (seen from rank 0)"), m);
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "fails at once, not at the timeout");
        t[0].close();
    }

    @Test
    void aSilentPeerTimesOut() throws Exception {
        SocketTransport[] t = pair(Duration.ofMillis(300));
        try {
            String m = assertThrows(TransportException.class,
                    () -> t[0].irecv(1, Transport.CHANNEL_HIDDEN, new float[1], 1).await()).getMessage();
            assertTrue(m.contains("receive from rank 1 on channel 1 did not complete within 300 ms"), m);
        } finally {
            t[0].close();
            t[1].close();
        }
    }

    @Test
    void aPeerThatNeverConnectsIsNamed() throws Exception {
        try (ServerSocket l0 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             ServerSocket l1 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            List<InetSocketAddress> addrs = List.of(new InetSocketAddress("127.0.0.1", l0.getLocalPort()),
                    new InetSocketAddress("127.0.0.1", l1.getLocalPort()));
            String m = assertThrows(TransportException.class, () -> connect(0, l0, addrs,
                    Duration.ofMillis(500), Duration.ofSeconds(1))).getMessage();
            assertTrue(m.contains("rank 1 never connected to rank 0 within 0 s"), m);
        }
    }

    @Test
    void anUnknownChannelIsRejected() throws Exception {
        try (ServerSocket l0 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             ServerSocket l1 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            List<InetSocketAddress> addrs = List.of(new InetSocketAddress("127.0.0.1", l0.getLocalPort()),
                    new InetSocketAddress("127.0.0.1", l1.getLocalPort()));
            CompletableFuture<SocketTransport> t0 = CompletableFuture.supplyAsync(
                    () -> connect(0, l0, addrs, Duration.ofSeconds(5), Duration.ofSeconds(5)));
            try (Socket raw = RawPeer.handshake(l0.getLocalPort(), 1, 0, SECRET)) {
                DataOutputStream out = new DataOutputStream(raw.getOutputStream());
                SocketTransport t = t0.get();
                Handle r = t.irecv(1, Transport.CHANNEL_HIDDEN, new float[1], 1);
                out.writeInt(0x50504631);
                out.writeInt(99);
                out.writeInt(1);
                out.writeFloat(1f);
                out.flush();
                String m = assertThrows(TransportException.class, r::await).getMessage();
                assertTrue(m.contains("message with unknown channel 99 from rank 1"), m);
                t.close();
            }
        }
    }
}
