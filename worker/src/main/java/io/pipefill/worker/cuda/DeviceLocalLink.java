package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;

import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Handle;
import io.pipefill.worker.comm.TransportException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * Hidden states between stages of one process on one GPU, device to device: no host round trip. A send and a
 * receive are matched in FIFO order per (sender, receiver); the copy (cudaMemcpyAsync, device to device: both
 * pools live in the GPU's primary context) runs on the fabric's copy stream once it has waited for two events,
 * one recorded on the sender's compute stream when it posted (the rows are computed) and one on the receiver's
 * when it posted (nothing queued before still uses the destination). Both handles complete when the event
 * recorded after the copy completes; the awaiting thread polls it, so the receiver's later kernels are queued
 * only after the rows are there.
 */
final class DeviceLocalLink implements ActivationLink {
    private final Fabric fabric;
    private final int rank;

    /** Every rank's endpoint in one process; holds the copy stream and the queues of unmatched posts. */
    public static final class Fabric implements ActivationLink.Fabric {
        private final int worldSize;
        private final Duration timeout;
        private final Map<Long, Pair> pairs = new HashMap<>();
        private CUstream_st copyStream;
        private boolean closed;

        public Fabric(int worldSize, Duration timeout) {
            if (worldSize < 1) {
                throw new IllegalArgumentException("a device-local fabric needs at least 1 rank, got " + worldSize);
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the device-local link's timeout must be positive, got " + timeout);
            }
            this.worldSize = worldSize;
            this.timeout = timeout;
        }

        @Override
        public ActivationLink endpoint(int rank) {
            checkRank(rank, "endpoint");
            return new DeviceLocalLink(this, rank);
        }

        void checkRank(int r, String what) {
            if (r < 0 || r >= worldSize) {
                throw new IllegalArgumentException(what + " rank " + r + " is outside the world of " + worldSize + " ranks");
            }
        }

        private Pair pair(int from, int to) {
            return pairs.computeIfAbsent((long) from * worldSize + to, k -> new Pair());
        }

        /** Queues a post, or matches it with the oldest post of the other side and issues the copy. */
        private synchronized void post(int from, int to, Post p) {
            if (closed) {
                p.destroyReady();
                throw new IllegalStateException("the device-local link is closed");
            }
            Pair q = pair(from, to);
            ArrayDeque<Post> mine = p.send ? q.sends : q.recvs;
            ArrayDeque<Post> theirs = p.send ? q.recvs : q.sends;
            Post other = theirs.poll();
            if (other == null) {
                mine.add(p);
                return;
            }
            Post send = p.send ? p : other;
            Post recv = p.send ? other : p;
            Match m = new Match(recv.what);
            send.match = m;
            recv.match = m;
            if (send.bytes != recv.bytes) {
                m.failure = new TransportException(recv.what + ": the sender posted " + send.rows + " rows of "
                        + send.width + " values, but the receive expects " + recv.rows + " rows of " + recv.width);
            } else {
                try {
                    issueCopy(send, recv, m);
                } catch (RuntimeException e) {
                    m.failure = new TransportException(recv.what + ": " + e.getMessage(), e);
                }
            }
            send.destroyReady();
            recv.destroyReady();
        }

        private void issueCopy(Post send, Post recv, Match m) {
            if (copyStream == null) {
                CUstream_st s = new CUstream_st();
                CudaDevice.check(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags (copy stream)");
                copyStream = s;
            }
            CudaDevice.check(cudaStreamWaitEvent(copyStream, send.ready, 0), "cudaStreamWaitEvent (sender's rows)");
            CudaDevice.check(cudaStreamWaitEvent(copyStream, recv.ready, 0), "cudaStreamWaitEvent (receiver's buffer)");
            CudaDevice.check(cudaMemcpyAsync(recv.device.ptr(recv.offset), send.device.ptr(send.offset), send.bytes,
                    cudaMemcpyDeviceToDevice, copyStream), "cudaMemcpyAsync device to device of " + send.bytes + " bytes");
            m.copied = newEvent();
            CudaDevice.check(cudaEventRecord(m.copied, copyStream), "cudaEventRecord (copy done)");
        }

        /** Takes an unmatched post off its queue (its wait ran out), so that no later post matches it. */
        private synchronized boolean withdraw(int from, int to, Post p) {
            if (p.match != null) {
                return false;
            }
            Pair q = pair(from, to);
            (p.send ? q.sends : q.recvs).remove(p);
            p.destroyReady();
            return true;
        }

        private synchronized Match matchOf(Post p) {
            return p.match;
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            for (Pair q : pairs.values()) {
                q.sends.forEach(Post::destroyReady);
                q.recvs.forEach(Post::destroyReady);
            }
            pairs.clear();
            if (copyStream != null) {
                cudaStreamSynchronize(copyStream);
                cudaStreamDestroy(copyStream);
                copyStream = null;
            }
        }
    }

    private static final class Pair {
        final ArrayDeque<Post> sends = new ArrayDeque<>();
        final ArrayDeque<Post> recvs = new ArrayDeque<>();
    }

    /** One side of a transfer: where its rows are and the event that says they may be touched. */
    private static final class Post {
        final boolean send;
        final String what;
        final CudaDevice device;
        final long offset;
        final long bytes;
        final int rows;
        final int width;
        CUevent_st ready;
        Match match;

        Post(boolean send, String what, CudaActivations a, int rows) {
            this.send = send;
            this.what = what;
            this.device = a.device();
            this.offset = a.offset;
            this.bytes = a.bytes(rows);
            this.rows = rows;
            this.width = a.width();
        }

        void destroyReady() {
            if (ready != null) {
                // safe while the copy stream still waits on it: CUDA releases it once it has completed
                cudaEventDestroy(ready);
                ready = null;
            }
        }
    }

    /** A matched pair's copy; both handles poll it. */
    private static final class Match {
        final String what;
        CUevent_st copied;
        TransportException failure;
        boolean done;

        Match(String what) {
            this.what = what;
        }

        synchronized boolean poll() {
            if (failure != null) {
                throw failure;
            }
            if (done) {
                return true;
            }
            int rc = cudaEventQuery(copied);
            if (rc == cudaErrorNotReady) {
                return false;
            }
            cudaEventDestroy(copied);
            copied = null;
            if (rc != 0) {
                failure = new TransportException(what + ": the device-to-device copy failed: CUDA error " + rc + " ("
                        + cudaGetErrorString(rc).getString() + ")");
                throw failure;
            }
            done = true;
            return true;
        }
    }

    private DeviceLocalLink(Fabric fabric, int rank) {
        this.fabric = fabric;
        this.rank = rank;
    }

    @Override
    public Handle send(int peer, Activations src, int rows) {
        return post(true, peer, src, rows, "send to rank " + peer + " over the device-local link");
    }

    @Override
    public Handle receive(int peer, Activations dst, int rows) {
        return post(false, peer, dst, rows, "receive from rank " + peer + " over the device-local link");
    }

    private Handle post(boolean send, int peer, Activations a, int rows, String what) {
        fabric.checkRank(peer, send ? "send to" : "receive from");
        if (peer == rank) {
            throw new IllegalArgumentException("rank " + rank + " cannot " + (send ? "send to" : "receive from") + " itself");
        }
        CudaActivations ca = CudaActivations.of(a);
        ca.checkRows(rows);
        Post p = new Post(send, what, ca, rows);
        // recorded now, on the poster's compute stream: the copy waits for everything queued so far, not for later work
        p.ready = newEvent();
        CudaDevice.check(cudaEventRecord(p.ready, ca.device().stream()), "cudaEventRecord (" + what + ")");
        int from = send ? rank : peer;
        int to = send ? peer : rank;
        fabric.post(from, to, p);
        return new Handle(what, fabric.timeout, new Handle.Progress() {
            @Override
            public boolean poll() {
                Match m = fabric.matchOf(p);
                return m != null && m.poll();
            }

            @Override
            public void timedOut() {
                if (fabric.withdraw(from, to, p)) {
                    throw new TransportException(what + " did not complete within " + describe(fabric.timeout)
                            + ": rank " + peer + " never posted the matching " + (send ? "receive" : "send"));
                }
            }
        });
    }

    private static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static CUevent_st newEvent() {
        CUevent_st e = new CUevent_st();
        CudaDevice.check(cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        return e;
    }

    @Override
    public void close() {
        // the fabric owns the copy stream and the queues
    }
}
