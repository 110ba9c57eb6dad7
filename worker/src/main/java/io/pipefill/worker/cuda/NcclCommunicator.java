package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaGetDevice;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;
import static org.bytedeco.cuda.global.nccl.ncclAllReduce;
import static org.bytedeco.cuda.global.nccl.ncclBfloat16;
import static org.bytedeco.cuda.global.nccl.ncclCommAbort;
import static org.bytedeco.cuda.global.nccl.ncclCommCount;
import static org.bytedeco.cuda.global.nccl.ncclCommSplit;
import static org.bytedeco.cuda.global.nccl.ncclCommUserRank;
import static org.bytedeco.cuda.global.nccl.ncclCommDestroy;
import static org.bytedeco.cuda.global.nccl.ncclCommGetAsyncError;
import static org.bytedeco.cuda.global.nccl.ncclCommInitRank;
import static org.bytedeco.cuda.global.nccl.ncclFloat32;
import static org.bytedeco.cuda.global.nccl.ncclGetErrorString;
import static org.bytedeco.cuda.global.nccl.ncclGetLastError;
import static org.bytedeco.cuda.global.nccl.ncclGetUniqueId;
import static org.bytedeco.cuda.global.nccl.ncclGetVersion;
import static org.bytedeco.cuda.global.nccl.ncclGroupEnd;
import static org.bytedeco.cuda.global.nccl.ncclGroupStart;
import static org.bytedeco.cuda.global.nccl.ncclInProgress;
import static org.bytedeco.cuda.global.nccl.ncclRecv;
import static org.bytedeco.cuda.global.nccl.ncclSend;
import static org.bytedeco.cuda.global.nccl.ncclSuccess;
import static org.bytedeco.cuda.global.nccl.ncclSum;

import io.pipefill.model.safetensors.DType;
import io.pipefill.worker.comm.Handle;
import io.pipefill.worker.comm.TransportException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclConfig_t;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * One rank of an NCCL communicator, for the GPU path of the transport contract: point-to-point sends and
 * receives and a sum all-reduce, all on a communication stream of its own, ordered after the compute stream
 * with an event recorded when the operation is posted (the data is computed), and each completing (its
 * {@link Handle}) when an event recorded after it on the communication stream completes.
 *
 * <p>Watchdog: the awaiting thread polls that event and ncclCommGetAsyncError; a wait past the timeout aborts
 * the communicator (ncclCommAbort, so that a kernel blocked on a silent peer cannot hang the GPU) and fails
 * naming the peer. Once aborted, every operation fails at once. Every NCCL status is checked, with
 * ncclGetErrorString and ncclGetLastError in the message.
 *
 * <p>NCCL refuses two ranks of one communicator on one GPU: stages sharing a GPU use {@link DeviceLocalLink}.
 * Not yet run on a GPU: {@code NcclProbe} (module gpu-probes) is its first check.
 */
final class NcclCommunicator implements AutoCloseable {
    /** Element types the pipeline moves: BF16 activations, FP32 partial sums. */
    enum DType {
        FP32(4), BF16(2);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        int nccl() {
            return this == FP32 ? ncclFloat32 : ncclBfloat16;
        }
    }

    /** One point-to-point operation of a group; {@code address} is a device address. */
    record Op(boolean send, int peer, long address, long count, DType type) {
        static Op send(int peer, long address, long count, DType type) {
            return new Op(true, peer, address, count, type);
        }

        static Op recv(int peer, long address, long count, DType type) {
            return new Op(false, peer, address, count, type);
        }

        String describe() {
            return (send ? "send of " : "receive of ") + count + " " + type + " values " + (send ? "to" : "from")
                    + " rank " + peer;
        }
    }

    private final int rank;
    private final int size;
    private final Duration timeout;
    private final CUstream_st compute;
    private final String name;
    private ncclComm comm;
    private CUstream_st commStream;
    /** The done events of operations not yet seen complete: close() aborts instead of destroying if any is stuck. */
    private final List<CUevent_st> outstanding = new ArrayList<>();
    private String abortReason;
    private boolean closed;

    /** ncclGetUniqueId: made by one rank (rank 0), sent to the others with {@link NcclIds#broadcast}. */
    static byte[] newUniqueId() {
        ncclUniqueId id = new ncclUniqueId();
        check(ncclGetUniqueId(id), "ncclGetUniqueId", null);
        byte[] out = new byte[NcclIds.BYTES];
        for (int i = 0; i < out.length; i++) {
            out[i] = id.internal(i);
        }
        id.close();
        return out;
    }

    /** "2.27.3" from ncclGetVersion's 22703. */
    static String version() {
        int[] v = {0};
        check(ncclGetVersion(v), "ncclGetVersion", null);
        int code = v[0];
        return code >= 10000 ? code / 10000 + "." + code / 100 % 100 + "." + code % 100
                : code / 1000 + "." + code / 100 % 10 + "." + code % 100;
    }

    /**
     * Joins the communicator of {@code size} ranks named by {@code uniqueId} as {@code rank}, on the current
     * device; {@code computeStream} is the stream whose work each operation waits for unless the call names
     * another. ncclCommInitRank blocks until every rank has joined: it runs on a helper thread so that a rank
     * that never comes makes this fail after {@code timeout} (naming what was awaited) instead of hanging.
     */
    NcclCommunicator(byte[] uniqueId, int size, int rank, CUstream_st computeStream, Duration timeout) {
        this(init(uniqueId, size, rank, timeout), size, rank, computeStream, timeout,
                "NCCL rank " + rank + " of " + size + " (id " + NcclIds.describe(uniqueId) + ")");
    }

    private NcclCommunicator(ncclComm comm, int size, int rank, CUstream_st computeStream, Duration timeout, String name) {
        this.rank = rank;
        this.size = size;
        this.timeout = timeout;
        this.compute = computeStream;
        this.name = name;
        this.comm = comm;
        try {
            CUstream_st s = new CUstream_st();
            CudaDevice.check(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags (NCCL stream)");
            commStream = s;
        } catch (RuntimeException e) {
            ncclCommDestroy(comm);
            this.comm = null;
            throw e;
        }
    }

    private static ncclComm init(byte[] uniqueId, int size, int rank, Duration timeout) {
        NcclIds.checkLength(uniqueId);
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("NCCL rank " + rank + " is outside a communicator of " + size + " ranks");
        }
        checkTimeout(timeout);
        String name = "NCCL rank " + rank + " of " + size + " (id " + NcclIds.describe(uniqueId) + ")";
        return bounded(name, "ncclCommInitRank", timeout, "not every one of the " + size
                + " ranks joined (a rank that failed to start, or a different id)", () -> {
                    ncclUniqueId id = new ncclUniqueId();
                    for (int i = 0; i < NcclIds.BYTES; i++) {
                        id.internal(i, uniqueId[i]);
                    }
                    ncclComm c = new ncclComm();
                    check(ncclCommInitRank(c, size, id, rank), "ncclCommInitRank (" + name + ")", null);
                    return c;
                });
    }

    /**
     * ncclCommSplit: every rank of this communicator calls it (it is collective); ranks passing the same
     * {@code color} form a new communicator, ranked by {@code key}. {@code expectedSize} and {@code expectedRank}
     * are what the caller's topology says the new communicator must be: checked against NCCL's answer so that
     * a wrong color is an error here, not a hang in the first all-reduce. Bounded like the init.
     */
    synchronized NcclCommunicator split(int color, int key, int expectedSize, int expectedRank, String what) {
        if (closed || abortReason != null) {
            throw new IllegalStateException(name + " is " + (closed ? "closed" : "aborted") + ": cannot split it");
        }
        if (color < 0) {
            throw new IllegalArgumentException("an NCCL split color must be non-negative, got " + color);
        }
        String childName = what + " (split of " + name + ", color " + color + ")";
        ncclComm parent = comm;
        ncclComm child = bounded(childName, "ncclCommSplit", timeout, "not every rank of the parent communicator "
                + "called the split", () -> {
                    ncclComm c = new ncclComm();
                    check(ncclCommSplit(parent, color, key, c, (ncclConfig_t) null), "ncclCommSplit (" + childName + ")", parent);
                    return c;
                });
        int[] n = {0};
        int[] r = {0};
        check(ncclCommCount(child, n), "ncclCommCount", child);
        check(ncclCommUserRank(child, r), "ncclCommUserRank", child);
        if (n[0] != expectedSize || r[0] != expectedRank) {
            ncclCommDestroy(child);
            throw new TransportException(childName + ": NCCL made rank " + r[0] + " of " + n[0] + ", the topology expects rank "
                    + expectedRank + " of " + expectedSize);
        }
        return new NcclCommunicator(child, expectedSize, expectedRank, compute, timeout, childName);
    }

    /**
     * Runs a blocking NCCL setup call on a helper thread bound to this thread's device, and fails after
     * {@code timeout} naming what was awaited: a rank that never calls would otherwise hang this one forever.
     */
    private static ncclComm bounded(String name, String call, Duration timeout, String likelyCause,
                                    java.util.function.Supplier<ncclComm> body) {
        int[] device = {0};
        CudaDevice.check(cudaGetDevice(device), "cudaGetDevice");
        CompletableFuture<ncclComm> joined = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                CudaDevice.check(cudaSetDevice(device[0]), "cudaSetDevice(" + device[0] + ")");
                joined.complete(body.get());
            } catch (Throwable e) {
                joined.completeExceptionally(e);
            }
        }, "nccl-" + call);
        t.setDaemon(true);
        t.start();
        try {
            return joined.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new TransportException(name + ": " + call + " did not complete within " + describe(timeout) + ": "
                    + likelyCause);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof RuntimeException r ? r : new TransportException(name + ": " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException(name + ": interrupted during " + call);
        }
    }

    private static void checkTimeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the NCCL timeout must be positive, got " + timeout);
        }
    }

    int rank() {
        return rank;
    }

    int size() {
        return size;
    }

    Handle send(int peer, long address, long count, DType type) {
        return group(List.of(Op.send(peer, address, count, type))).get(0);
    }

    Handle recv(int peer, long address, long count, DType type) {
        return group(List.of(Op.recv(peer, address, count, type))).get(0);
    }

    /**
     * Posts {@code ops} as one NCCL group (ncclGroupStart/End), so that sends and receives between the same ranks
     * cannot deadlock on each other; the handles complete together, when the group's work on the stream is done.
     */
    synchronized List<Handle> group(List<Op> ops) {
        return group(ops, compute);
    }

    /** {@link #group(List)} ordered after the work queued so far on {@code after} (the stream that wrote or will read the rows). */
    synchronized List<Handle> group(List<Op> ops, CUstream_st after) {
        if (ops.isEmpty()) {
            throw new IllegalArgumentException("an NCCL group needs at least one operation");
        }
        for (Op op : ops) {
            checkPeer(op.peer(), op.describe());
            checkCount(op.count(), op.describe());
        }
        String what = ops.size() == 1 ? ops.get(0).describe()
                : "group of " + String.join(", ", ops.stream().map(Op::describe).toList());
        CUevent_st done = enqueue(what, after, () -> {
            check(ncclGroupStart(), "ncclGroupStart", comm);
            RuntimeException failed = null;
            for (Op op : ops) {
                try {
                    Pointer p = new DeviceAddress(op.address());
                    check(op.send() ? ncclSend(p, op.count(), op.type().nccl(), op.peer(), comm, commStream)
                            : ncclRecv(p, op.count(), op.type().nccl(), op.peer(), comm, commStream), op.describe(), comm);
                } catch (RuntimeException e) {
                    failed = e;
                    break;
                }
            }
            // the group must be closed even when an operation was refused, or NCCL stays inside it
            int end = ncclGroupEnd();
            if (failed != null) {
                throw failed;
            }
            check(end, "ncclGroupEnd (" + what + ")", comm);
        });
        List<Handle> handles = new ArrayList<>();
        Completion c = new Completion(done);
        for (Op op : ops) {
            handles.add(handle(name + ": " + op.describe(), op.peer(), c));
        }
        return handles;
    }

    /** Sums {@code count} values over every rank (ncclAllReduce, ncclSum); in place when the addresses are equal. */
    synchronized Handle allReduceSum(long sendAddress, long recvAddress, long count, DType type) {
        return allReduceSum(sendAddress, recvAddress, count, type, compute);
    }

    /** {@link #allReduceSum(long, long, long, DType)} ordered after the work queued so far on {@code after}. */
    synchronized Handle allReduceSum(long sendAddress, long recvAddress, long count, DType type, CUstream_st after) {
        String what = "all-reduce (sum) of " + count + " " + type + " values over " + size + " ranks";
        checkCount(count, what);
        CUevent_st done = enqueue(what, after, () -> check(ncclAllReduce(new DeviceAddress(sendAddress),
                new DeviceAddress(recvAddress), count, type.nccl(), ncclSum, comm, commStream), "ncclAllReduce", comm));
        return handle(name + ": " + what, -1, new Completion(done));
    }

    /** Orders the operation after the compute stream's work so far, issues it, and records its done event. */
    private CUevent_st enqueue(String what, CUstream_st after, Runnable issue) {
        if (closed) {
            throw new IllegalStateException(name + " is closed: cannot post the " + what);
        }
        if (abortReason != null) {
            throw new TransportException(name + " was aborted (" + abortReason + "): cannot post the " + what);
        }
        if (after == null) {
            throw new IllegalArgumentException(name + ": the " + what + " names no stream to order it after");
        }
        CUevent_st ready = newEvent();
        try {
            CudaDevice.check(cudaEventRecord(ready, after), "cudaEventRecord on the compute stream (" + what + ")");
            CudaDevice.check(cudaStreamWaitEvent(commStream, ready, 0), "cudaStreamWaitEvent (" + what + ")");
        } finally {
            cudaEventDestroy(ready);  // released once the wait has passed it
        }
        issue.run();
        CUevent_st done = newEvent();
        CudaDevice.check(cudaEventRecord(done, commStream), "cudaEventRecord on the NCCL stream (" + what + ")");
        outstanding.add(done);
        return done;
    }

    /** A posted operation's done event, polled by every handle of its group. */
    private final class Completion {
        private CUevent_st done;

        Completion(CUevent_st done) {
            this.done = done;
        }

        boolean poll(String what) {
            synchronized (NcclCommunicator.this) {
                if (done == null) {
                    return true;
                }
                if (abortReason != null) {
                    throw new TransportException(what + ": the communicator was aborted (" + abortReason + ")");
                }
                int[] async = {0};
                check(ncclCommGetAsyncError(comm, async), "ncclCommGetAsyncError", comm);
                if (async[0] != ncclSuccess && async[0] != ncclInProgress) {
                    String err = errorText(async[0], comm);
                    abort("asynchronous error " + err);
                    throw new TransportException(what + " failed: NCCL asynchronous error " + err
                            + "; the communicator was aborted");
                }
                int rc = cudaEventQuery(done);
                if (rc == cudaErrorNotReady) {
                    return false;
                }
                outstanding.remove(done);
                cudaEventDestroy(done);
                done = null;
                if (rc != 0) {
                    throw new TransportException(what + " failed: CUDA error " + rc + " (" + cudaGetErrorString(rc).getString() + ")");
                }
                return true;
            }
        }
    }

    private Handle handle(String what, int peer, Completion c) {
        return new Handle(what, timeout, new Handle.Progress() {
            @Override
            public boolean poll() {
                return c.poll(what);
            }

            @Override
            public void timedOut() {
                NcclCommunicator.this.timedOut(what, peer);
            }
        });
    }

    /**
     * The watchdog's move when a wait runs out: aborts the communicator (so that no kernel keeps waiting on a
     * silent peer) and throws, naming who did not answer ({@code peer} -1: a collective of the whole group).
     */
    void timedOut(String what, int peer) {
        String who = peer >= 0 ? "rank " + peer + " did not answer" : "not every rank of the " + size + " took part";
        synchronized (this) {
            abort(what + " timed out after " + describe(timeout));
        }
        throw new TransportException(what + " did not complete within " + describe(timeout) + ": " + who
                + "; the communicator was aborted (ncclCommAbort) so that no kernel keeps waiting");
    }

    Duration timeout() {
        return timeout;
    }

    String name() {
        return name;
    }

    /** ncclCommAbort, once: later operations and waits fail at once with {@code reason}. */
    private void abort(String reason) {
        if (abortReason != null || comm == null) {
            return;
        }
        abortReason = reason;
        ncclCommAbort(comm);  // its status is of no use: the communicator is gone either way
        comm = null;
    }

    boolean aborted() {
        return abortReason != null;
    }

    private void checkPeer(int peer, String what) {
        if (peer < 0 || peer >= size) {
            throw new IllegalArgumentException(name + ": the " + what + " names rank " + peer
                    + ", outside the communicator's ranks 0.." + (size - 1));
        }
    }

    private static void checkCount(long count, String what) {
        if (count < 1) {
            throw new IllegalArgumentException("the " + what + " needs at least 1 value, got " + count);
        }
    }

    private static CUevent_st newEvent() {
        CUevent_st e = new CUevent_st();
        CudaDevice.check(cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        return e;
    }

    /** Throws unless {@code rc} is ncclSuccess (or ncclInProgress, which only non-blocking communicators return). */
    static void check(int rc, String what, ncclComm comm) {
        if (rc != ncclSuccess && rc != ncclInProgress) {
            throw new TransportException(what + " failed: " + errorText(rc, comm));
        }
    }

    private static String errorText(int rc, ncclComm comm) {
        StringBuilder sb = new StringBuilder("ncclResult ").append(rc);
        BytePointer s = ncclGetErrorString(rc);
        if (s != null && !s.isNull()) {
            sb.append(" (").append(s.getString()).append(')');
        }
        BytePointer last = ncclGetLastError(comm);
        if (last != null && !last.isNull() && !last.getString().isBlank()) {
            sb.append("; last error: ").append(last.getString().trim());
        }
        return sb.toString();
    }

    private static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /**
     * Destroys the communicator, or aborts it when an operation has not completed (ncclCommDestroy would wait
     * for it, possibly forever).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean stuck = false;
        for (CUevent_st e : outstanding) {
            if (cudaEventQuery(e) != 0) {
                stuck = true;
            }
            cudaEventDestroy(e);
        }
        outstanding.clear();
        if (comm != null) {
            if (stuck) {
                abort("closed with operations still in flight");
            } else {
                ncclComm c = comm;
                comm = null;
                check(ncclCommDestroy(c), "ncclCommDestroy (" + name + ")", null);
            }
        }
        if (commStream != null) {
            cudaStreamDestroy(commStream);
            commStream = null;
        }
    }

    /** A device address for NCCL; JavaCPP passes it through and never frees it. */
    private static final class DeviceAddress extends Pointer {
        DeviceAddress(long address) {
            this.address = address;
        }
    }
}
