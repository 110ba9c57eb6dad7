package io.pipefill.worker.cuda;

import io.pipefill.worker.comm.Transport;
import java.util.Arrays;

/**
 * An NCCL unique id (ncclUniqueId, 128 opaque bytes) on the way from the rank that made it to the others: a
 * control message of the run's transport, as bytes. Plain Java: no CUDA class is loaded here.
 */
final class NcclIds {
    /** NCCL_UNIQUE_ID_BYTES. */
    public static final int BYTES = 128;

    /** The control message that carries an id. */
    record UniqueId(byte[] bytes) {
    }

    private NcclIds() {
    }

    /**
     * Every rank of {@code group} gets {@code root}'s id ({@code idAtRoot}; ignored elsewhere) over the run's
     * transport: the rendezvous an NCCL communicator needs before ncclCommInitRank.
     */
    public static byte[] broadcast(Transport t, int root, int[] group, byte[] idAtRoot) {
        if (t.rank() == root) {
            checkLength(idAtRoot);
        }
        byte[] id = t.broadcast(root, group, t.rank() == root ? new UniqueId(idAtRoot) : null, UniqueId.class).bytes();
        checkLength(id);
        return id;
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
