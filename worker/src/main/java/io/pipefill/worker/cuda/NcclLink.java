package io.pipefill.worker.cuda;

import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Handle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Hidden states between ranks of different processes, each on its own GPU: the BF16 rows of
 * {@link CudaActivations} go straight from one device pool to the other with ncclSend/ncclRecv on the world
 * communicator. Every operation is ordered after an event on the poster's compute stream (the sender's rows are
 * computed; nothing queued before still uses the receiver's buffer) and its {@link Handle} completes on the event
 * recorded after it on the communication stream. NCCL matches sends and receives per (communicator, peer) in
 * the order they are issued, which is the link's FIFO; a wait past the communicator's timeout aborts it and
 * fails naming the peer.
 *
 * <p>Receives on a rank that also sends (a middle stage) are not issued when posted but held back and issued in
 * one NCCL group with the next send (or alone, when awaited first). NCCL runs a communicator's operations in
 * stream order, so a receive of chunk c+1 issued at once would hold the send of chunk c behind it until the
 * previous stage had computed c+1; grouped, the two progress together (Megatron's send-forward/receive-forward).
 * The price: a send's handle completes with its group, so its send time includes that receive. A rank that
 * never sends (the last stage) issues its receives at once, so the transfer overlaps its compute.
 *
 * <p>One rank's loop uses a link; not shared between threads. Not yet run on a GPU (see tools/gpu-check/README.md).
 */
final class NcclLink implements ActivationLink {
    private final NcclCommunicator comm;
    private final boolean deferReceives;
    private final IntFunction<String> describe;
    private final List<Deferred> deferred = new ArrayList<>();

    /** A receive posted but not yet issued; {@code issued} is NCCL's handle once it is. */
    private static final class Deferred {
        final NcclCommunicator.Op op;
        final CudaActivations dst;
        Handle issued;

        Deferred(NcclCommunicator.Op op, CudaActivations dst) {
            this.op = op;
            this.dst = dst;
        }
    }

    /**
     * {@code sends}: whether this rank also sends hidden states (then its receives are grouped with its sends);
     * {@code describe} names a world rank in messages ("stage 1 (rank 1)").
     */
    NcclLink(NcclCommunicator comm, boolean sends, IntFunction<String> describe) {
        this.comm = comm;
        this.deferReceives = sends;
        this.describe = describe;
    }

    @Override
    public Handle send(int peer, Activations src, int rows) {
        CudaActivations ca = CudaActivations.of(src);
        ca.checkRows(rows);
        List<NcclCommunicator.Op> ops = new ArrayList<>();
        ops.add(NcclCommunicator.Op.send(peer, ca.device().arg(ca.offset).value(), (long) rows * ca.width(),
                NcclCommunicator.DType.BF16));
        List<Deferred> riding = new ArrayList<>();
        for (Deferred d : deferred) {
            // one process, one GPU, one compute stream: a receive into another device's rows would need its own order
            if (d.dst.device() == ca.device()) {
                ops.add(d.op);
                riding.add(d);
            }
        }
        List<Handle> h = comm.group(ops, ca.device().stream());
        for (int i = 0; i < riding.size(); i++) {
            riding.get(i).issued = h.get(i + 1);
        }
        deferred.removeAll(riding);
        return h.get(0);
    }

    @Override
    public Handle receive(int peer, Activations dst, int rows) {
        CudaActivations ca = CudaActivations.of(dst);
        ca.checkRows(rows);
        NcclCommunicator.Op op = NcclCommunicator.Op.recv(peer, ca.device().arg(ca.offset).value(),
                (long) rows * ca.width(), NcclCommunicator.DType.BF16);
        if (!deferReceives) {
            return comm.group(List.of(op), ca.device().stream()).get(0);
        }
        Deferred d = new Deferred(op, ca);
        deferred.add(d);
        String what = comm.name() + ": receive of " + rows + " rows from " + describe.apply(peer);
        return new Handle(what, comm.timeout(), new Handle.Progress() {
            @Override
            public boolean poll() {
                if (d.issued == null) {
                    issueDeferred();
                }
                if (!d.issued.isDone()) {
                    return false;
                }
                d.issued.await();  // done: returns at once, or throws NCCL's error naming the peer
                return true;
            }

            @Override
            public void timedOut() {
                comm.timedOut(what, peer);
            }
        });
    }

    /**
     * Issues every held-back receive, oldest first, as one group: awaiting a later one must not let it overtake
     * an earlier one from the same peer (NCCL matches in issue order).
     */
    private void issueDeferred() {
        List<Deferred> all = new ArrayList<>(deferred);
        deferred.clear();
        List<NcclCommunicator.Op> ops = all.stream().map(d -> d.op).toList();
        List<Handle> h = comm.group(ops, all.get(0).dst.device().stream());
        for (int i = 0; i < all.size(); i++) {
            all.get(i).issued = h.get(i);
        }
    }

    /** Held-back receives not yet issued: a test's and a probe's view of the grouping. */
    int deferredReceives() {
        return deferred.size();
    }

    @Override
    public void close() {
        // the communicator belongs to the rank (NcclRank), which closes it after the link
        deferred.clear();
    }
}
