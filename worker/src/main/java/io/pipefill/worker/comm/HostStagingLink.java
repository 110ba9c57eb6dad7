package io.pipefill.worker.comm;

import io.pipefill.worker.engine.Activations;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Activations through host floats over any {@link Transport}: the send copies the rows to the host before it
 * posts (so the source is free at once, as it always was), the receive lands in a host buffer and is copied into
 * the destination by the thread that awaits it, the thread that owns the backend. Host buffers are recycled once
 * their transfer has completed, so a run allocates about four of them, as StageWorker did by hand.
 *
 * <p>One rank's loop uses a link; it is not shared between threads.
 */
final class HostStagingLink implements ActivationLink {
    private final Transport transport;
    private final ArrayDeque<float[]> free = new ArrayDeque<>();
    private final List<InFlight> inFlight = new ArrayList<>();

    /** A buffer and the handle whose completion frees it. */
    private record InFlight(Handle handle, float[] buffer) {
    }

    HostStagingLink(Transport transport) {
        this.transport = transport;
    }

    @Override
    public Handle send(int peer, Activations src, int rows) {
        int n = rows * src.width();
        float[] buf = take(n);
        src.copyToHost(rows, buf);
        Handle h = transport.isend(peer, Transport.CHANNEL_HIDDEN, buf, n);
        inFlight.add(new InFlight(h, buf));
        return h;
    }

    @Override
    public Handle receive(int peer, Activations dst, int rows) {
        int n = rows * dst.width();
        float[] buf = take(n);
        Handle arrived = transport.irecv(peer, Transport.CHANNEL_HIDDEN, buf, n);
        // the copy into dst runs on this link's thread (the backend's), when the receive is awaited or polled
        Handle h = new Handle(arrived.what(), arrived.timeout(), new Handle.Progress() {
            @Override
            public boolean poll() {
                if (!arrived.isDone()) {
                    return false;
                }
                arrived.await();  // done: returns at once, or throws the transport's error naming the peer
                dst.copyFromHost(rows, buf);
                return true;
            }

            @Override
            public void idle(long nanos) {
                arrived.waitDone(nanos);  // blocks until the floats are here: a waiting CPU rank does not spin
            }
        });
        // the buffer is free only once copied out, not when the floats arrived
        inFlight.add(new InFlight(h, buf));
        return h;
    }

    /** A buffer of at least {@code n} floats, reusing one whose transfer is over. */
    private float[] take(int n) {
        inFlight.removeIf(f -> {
            if (f.handle().isDone()) {
                free.add(f.buffer());
                return true;
            }
            return false;
        });
        for (var it = free.iterator(); it.hasNext(); ) {
            float[] b = it.next();
            if (b.length >= n) {
                it.remove();
                return b;
            }
        }
        return new float[n];
    }

    /** Buffers held now (in flight or free): a test's check that they are recycled. */
    int buffersHeld() {
        return free.size() + inFlight.size();
    }

    @Override
    public void close() {
        free.clear();
        inFlight.clear();
    }
}
