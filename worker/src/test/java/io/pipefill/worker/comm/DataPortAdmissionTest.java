package io.pipefill.worker.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Security finding 4 (issue 23): a data port admits only the run's own ranks — strangers, impostors without the
 * run's secret and silent connections are turned away without failing the run — and a frame header cannot
 * claim more than the run ever sends. Real loopback sockets; rank 0 accepts, rank 1 connects.
 */
class DataPortAdmissionTest {
    private static final int MAX_FRAME = 4096;
    private final RunSecret secret = RunSecret.generate();
    private ServerSocket l0;
    private ServerSocket l1;
    private List<InetSocketAddress> addrs;

    @BeforeEach
    void listen() throws Exception {
        l0 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        l1 = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        addrs = List.of(new InetSocketAddress("127.0.0.1", l0.getLocalPort()),
                new InetSocketAddress("127.0.0.1", l1.getLocalPort()));
    }

    @AfterEach
    void close() throws Exception {
        l0.close();
        l1.close();
    }

    private SocketTransport connect(int rank, RunSecret s, Duration connectTimeout) {
        return SocketTransport.connect(rank, rank == 0 ? l0 : l1, addrs, connectTimeout, Duration.ofSeconds(5),
                r -> "rank " + r, SocketTransport.Admission.of(s, MAX_FRAME));
    }

    private CompletableFuture<SocketTransport> acceptor() {
        return CompletableFuture.supplyAsync(() -> connect(0, secret, Duration.ofSeconds(20)));
    }

    /** The pair works: rank 1 sends, rank 0 receives what was sent. */
    private static void exchange(SocketTransport t0, SocketTransport t1) {
        float[] sent = {1f, 2f, 3f};
        float[] got = new float[3];
        Handle r = t0.irecv(1, Transport.CHANNEL_HIDDEN, got, 3);
        t1.isend(0, Transport.CHANNEL_HIDDEN, sent, 3).await();
        r.await();
        assertArrayEquals(sent, got);
    }

    @Test
    void aStrayHttpRequestIsTurnedAwayAndTheRealPeerStillConnects() throws Exception {
        CompletableFuture<SocketTransport> t0 = acceptor();
        try (Socket stray = new Socket("127.0.0.1", l0.getLocalPort())) {
            stray.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            stray.getOutputStream().flush();
            stray.setSoTimeout(5000);
            InputStream in = stray.getInputStream();
            in.readNBytes(4 + RunSecret.BYTES); // the challenge
            assertEquals(-1, in.read(), "the stranger is disconnected");
            try (SocketTransport t1 = connect(1, secret, Duration.ofSeconds(10)); SocketTransport a = t0.get(10, TimeUnit.SECONDS)) {
                exchange(a, t1);
            }
        }
    }

    @Test
    void aConnectionClaimingARankWithoutTheRunsSecretIsNotTakenForThePeer() throws Exception {
        CompletableFuture<SocketTransport> t0 = acceptor();
        try (Socket impostor = RawPeer.handshake(l0.getLocalPort(), 1, 0, RunSecret.generate())) {
            impostor.setSoTimeout(5000);
            assertEquals(-1, impostor.getInputStream().read(), "no proof back, and the connection closed");
            assertFalse(t0.isDone(), "rank 0 still waits for the real rank 1");
            try (SocketTransport t1 = connect(1, secret, Duration.ofSeconds(10)); SocketTransport a = t0.get(10, TimeUnit.SECONDS)) {
                exchange(a, t1);
            }
        }
    }

    @Test
    void aPortOfAnotherRunIsNamedAndNotTrusted() {
        CompletableFuture<SocketTransport> other = CompletableFuture.supplyAsync(
                () -> connect(0, RunSecret.generate(), Duration.ofSeconds(3)));
        TransportException e = assertThrows(TransportException.class, () -> connect(1, secret, Duration.ofSeconds(3)));
        assertTrue(e.getMessage().contains("rank 0 at") && e.getMessage().contains("refused the handshake of rank 1"),
                e.getMessage());
        TransportException seen = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> other.get(10, TimeUnit.SECONDS)).getCause() instanceof TransportException t ? t : null;
        assertTrue(seen != null && seen.getMessage().contains("rank 1 never connected")
                && seen.getMessage().contains("without the run's secret"), String.valueOf(seen));
    }

    @Test
    void aSilentConnectionIsDroppedAfterTheHandshakeTimeout() throws Exception {
        CompletableFuture<SocketTransport> t0 = acceptor();
        try (Socket silent = new Socket("127.0.0.1", l0.getLocalPort())) {
            long start = System.nanoTime();
            try (SocketTransport t1 = connect(1, secret, Duration.ofSeconds(15)); SocketTransport a = t0.get(15, TimeUnit.SECONDS)) {
                exchange(a, t1);
            }
            double s = (System.nanoTime() - start) / 1e9;
            assertTrue(s < 10, "the real peer was admitted after the silent one's handshake timeout, took " + s + " s");
        }
    }

    @Test
    void aFrameHeaderClaimingMoreThanTheRunSendsFailsAtOnceNamingThePeer() throws Exception {
        CompletableFuture<SocketTransport> t0 = acceptor();
        try (Socket peer = RawPeer.handshake(l0.getLocalPort(), 1, 0, secret)) {
            peer.getInputStream().readNBytes(RunSecret.BYTES); // the acceptor's proof
            SocketTransport a = t0.get(10, TimeUnit.SECONDS);
            Handle r = a.irecv(1, Transport.CHANNEL_HIDDEN, new float[MAX_FRAME], MAX_FRAME);
            long heapBefore = usedHeap();
            DataOutputStream out = new DataOutputStream(peer.getOutputStream());
            out.writeInt(0x50504631);
            out.writeInt(Transport.CHANNEL_HIDDEN);
            out.writeInt(1 << 28); // 1 GiB of floats, and then nothing
            out.flush();
            String m = assertThrows(TransportException.class, r::await).getMessage();
            assertTrue(m.contains("message of 268435456 floats from rank 1 is outside [0, 4096]"), m);
            assertTrue(usedHeap() - heapBefore < 256L << 20, "nothing was allocated for the claimed frame");
            a.close();
        }
    }

    @Test
    void sendingMoreThanTheFrameBoundIsAProgrammingErrorNamedAtTheSender() throws Exception {
        CompletableFuture<SocketTransport> t0 = acceptor();
        try (SocketTransport t1 = connect(1, secret, Duration.ofSeconds(10)); SocketTransport a = t0.get(10, TimeUnit.SECONDS)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> t1.isend(0, Transport.CHANNEL_HIDDEN, new float[MAX_FRAME + 1], MAX_FRAME + 1));
            assertTrue(e.getMessage().contains("over this run's limit of 4096"), e.getMessage());
            exchange(a, t1);
        }
    }

    @Test
    void peersAreCheckedAgainstTheAddressTheRunGaveForThem() throws Exception {
        InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 1);
        assertTrue(SocketTransport.sameHost(InetAddress.getByName("127.0.0.1"), loopback));
        assertTrue(SocketTransport.sameHost(InetAddress.getByName("127.0.1.1"), loopback), "loopback is one host");
        assertFalse(SocketTransport.sameHost(InetAddress.getByName("192.0.2.7"), loopback));
        assertTrue(SocketTransport.sameHost(InetAddress.getByName("192.0.2.7"), new InetSocketAddress("192.0.2.7", 1)));
        assertFalse(SocketTransport.sameHost(InetAddress.getByName("192.0.2.8"), new InetSocketAddress("192.0.2.7", 1)));
    }

    @Test
    void theSecretNeverShowsInText() {
        assertEquals("RunSecret[hidden]", secret.toString());
        RunSecret back = RunSecret.parse(secret.encoded(), "dataSecret");
        assertTrue(back.verifies("x", secret.tag("x")));
        var e = assertThrows(IllegalArgumentException.class, () -> RunSecret.parse("c2hvcnQ", "dataSecret"));
        assertEquals("dataSecret must decode to 32 bytes, got 5", e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RunSecret.parse(null, "dataSecret")).getMessage()
                .startsWith("dataSecret is missing"));
    }

    private static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
