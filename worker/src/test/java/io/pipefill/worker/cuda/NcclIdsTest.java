package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.transport.InProcessTransport;
import io.pipefill.worker.transport.Transport;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The NCCL unique id's trip over the float transports; plain Java, no CUDA class loaded. */
class NcclIdsTest {
    @Test
    void everyByteValueSurvivesTheFloatEncoding() {
        byte[] id = new byte[NcclIds.BYTES];
        for (int i = 0; i < id.length; i++) {
            id[i] = (byte) (i * 2 + 1);  // covers 0x80.. (negative bytes) and 0x01..
        }
        id[0] = (byte) 0xff;
        id[1] = (byte) 0xff;
        id[2] = 0;
        float[] f = NcclIds.toFloats(id);
        assertEquals(64, f.length);
        assertEquals(65535f, f[0]);
        assertArrayEquals(id, NcclIds.fromFloats(f));
        byte[] random = new byte[NcclIds.BYTES];
        new Random(3).nextBytes(random);
        assertArrayEquals(random, NcclIds.fromFloats(NcclIds.toFloats(random)));
    }

    @Test
    void malformedIdsAndMessagesAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NcclIds.toFloats(new byte[127])).getMessage()
                .contains("128 bytes, got 127"));
        assertThrows(IllegalArgumentException.class, () -> NcclIds.toFloats(null));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NcclIds.fromFloats(new float[10])).getMessage()
                .contains("64 floats"));
        float[] bad = new float[64];
        bad[5] = 0.5f;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NcclIds.fromFloats(bad)).getMessage()
                .contains("float 5"));
        bad[5] = 70000;
        assertThrows(IllegalArgumentException.class, () -> NcclIds.fromFloats(bad));
    }

    @Test
    void rankZerosIdReachesEveryRankOverATransport() throws Exception {
        InProcessTransport.Fabric f = new InProcessTransport.Fabric(3, Duration.ofSeconds(5));
        byte[] id = new byte[NcclIds.BYTES];
        new Random(9).nextBytes(id);
        int[] group = {0, 1, 2};
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
}
