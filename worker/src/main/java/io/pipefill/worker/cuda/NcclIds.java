package io.pipefill.worker.cuda;

import io.pipefill.worker.transport.Transport;
import java.util.Arrays;

/**
 * An NCCL unique id (ncclUniqueId, 128 opaque bytes) on the way from the rank that made it to the others. The
 * transports carry floats, so the bytes travel as 64 floats of 16 bits each (integers below 2^24 are exact in a
 * float; SharedRunClock sends its epoch the same way). Plain Java: no CUDA class is loaded here.
 */
final class NcclIds {
    /** NCCL_UNIQUE_ID_BYTES. */
    public static final int BYTES = 128;
    static final int FLOATS = BYTES / 2;

    private NcclIds() {
    }

    static float[] toFloats(byte[] id) {
        checkLength(id);
        float[] f = new float[FLOATS];
        for (int i = 0; i < FLOATS; i++) {
            f[i] = (id[2 * i] & 0xff) | (id[2 * i + 1] & 0xff) << 8;
        }
        return f;
    }

    static byte[] fromFloats(float[] f) {
        if (f.length != FLOATS) {
            throw new IllegalArgumentException("an NCCL unique id travels as " + FLOATS + " floats, got " + f.length);
        }
        byte[] id = new byte[BYTES];
        for (int i = 0; i < FLOATS; i++) {
            float v = f[i];
            if (v != Math.rint(v) || v < 0 || v > 0xffff) {
                throw new IllegalArgumentException("float " + i + " of an NCCL unique id is " + v
                        + ", not a 16-bit piece: the message is not an id");
            }
            int bits = (int) v;
            id[2 * i] = (byte) bits;
            id[2 * i + 1] = (byte) (bits >>> 8);
        }
        return id;
    }

    /**
     * Every rank of {@code group} gets {@code root}'s id ({@code idAtRoot}; ignored elsewhere) over the run's
     * transport: the rendezvous an NCCL communicator needs before ncclCommInitRank.
     */
    public static byte[] broadcast(Transport t, int root, int[] group, byte[] idAtRoot) {
        float[] msg = t.rank() == root ? toFloats(idAtRoot) : new float[FLOATS];
        t.broadcast(root, group, msg, FLOATS);
        return fromFloats(msg);
    }

    static void checkLength(byte[] id) {
        if (id == null || id.length != BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + BYTES + " bytes, got "
                    + (id == null ? "none" : id.length));
        }
    }

    /** For messages: the first bytes in hex, enough to tell two ids apart in a log. */
    static String describe(byte[] id) {
        StringBuilder sb = new StringBuilder();
        for (byte b : Arrays.copyOf(id, Math.min(8, id.length))) {
            sb.append(String.format("%02x", b & 0xff));
        }
        return sb.append('…').toString();
    }
}
