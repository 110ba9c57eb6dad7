package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.comm.InProcessTransport;
import io.pipefill.worker.comm.RunSecret;
import io.pipefill.worker.comm.SocketTransport;
import io.pipefill.worker.comm.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The NCCL unique id's trip as a control message over the transports; plain Java, no CUDA class loaded. */
class NcclIdsTest {
    @Test
    void aMalformedIdIsRefusedAtTheRoot() {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(1, Duration.ofSeconds(5));
        Transport root = f.endpoint(0);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NcclIds.broadcast(root, 0, new int[] {0},
                new byte[127])).getMessage().contains("128 bytes, got 127"));
        assertThrows(IllegalArgumentException.class, () -> NcclIds.broadcast(root, 0, new int[] {0}, null));
    }

    @Test
    void rankZerosIdReachesEveryRankOverATransport() throws Exception {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(3, Duration.ofSeconds(5));
        byte[] id = new byte[NcclIds.BYTES];
        new Random(9).nextBytes(id);
        int[] group = {0, 1, 2};
        RunSecret secret = RunSecret.generate();
        @SuppressWarnings("unchecked")
        CompletableFuture<byte[]>[] got = new CompletableFuture[3];
        for (int r = 0; r < 3; r++) {
            Transport t = f.endpoint(r);
            got[r] = CompletableFuture.supplyAsync(() -> NcclIds.broadcast(t, 0, group, t.rank() == 0 ? id : null));
        }
        for (CompletableFuture<byte[]> g : got) {
            assertArrayEquals(id, g.get());
        }
        assertEquals("", NcclIds.describe(id).replaceAll("^[0-9a-f]{16}…$", ""));
    }

    /**
     * The exchange a multi-process CUDA pipeline makes before ncclCommInitRank (NcclRank), over the sockets the
     * worker processes use: three ranks, one thread each, every rank ends with rank 0's exact bytes, twice in a
     * row (the world id, then a second id on the same connections).
     */
    @Test
    void rankZerosIdReachesEveryRankOverRealSockets() throws Exception {
        int world = 3;
        List<ServerSocket> listeners = new ArrayList<>();
        List<InetSocketAddress> addrs = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            ServerSocket l = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
            listeners.add(l);
            addrs.add(new InetSocketAddress("127.0.0.1", l.getLocalPort()));
        }
        byte[] first = new byte[NcclIds.BYTES];
        byte[] second = new byte[NcclIds.BYTES];
        new Random(21).nextBytes(first);
        new Random(22).nextBytes(second);
        int[] group = {0, 1, 2};
        RunSecret secret = RunSecret.generate();
        List<CompletableFuture<byte[][]>> got = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            int rank = r;
            got.add(CompletableFuture.supplyAsync(() -> {
                try (SocketTransport t = SocketTransport.connect(rank, listeners.get(rank), addrs, Duration.ofSeconds(10),
                        Duration.ofSeconds(10), p -> "rank " + p, SocketTransport.Admission.of(secret, 16))) {
                    byte[] a = NcclIds.broadcast(t, 0, group, rank == 0 ? first : null);
                    byte[] b = NcclIds.broadcast(t, 0, group, rank == 0 ? second : null);
                    t.barrier(group);  // nobody closes its sockets while another still reads
                    return new byte[][] {a, b};
                }
            }));
        }
        try {
            for (CompletableFuture<byte[][]> g : got) {
                byte[][] ids = g.get(30, TimeUnit.SECONDS);
                assertArrayEquals(first, ids[0]);
                assertArrayEquals(second, ids[1]);
            }
        } finally {
            for (ServerSocket l : listeners) {
                l.close();
            }
        }
    }
}
