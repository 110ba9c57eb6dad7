package io.pipefill.worker.comm;

import java.util.ArrayDeque;

/**
 * Matches arriving messages of one (peer, channel) with posted receives, in FIFO order on both sides: a
 * message that arrives before its receive waits here; a receive posted first is filled on arrival.
 */
final class Mailbox {
    private final String name;
    private final ArrayDeque<Arrived> arrived = new ArrayDeque<>();
    private final ArrayDeque<Posted> posted = new ArrayDeque<>();
    private TransportException failure;

    private record Posted(Handle handle, float[] into, int length) {
    }

    /** A message waiting for its receive; {@code sent}, if any, completes once the data has been copied out. */
    private record Arrived(float[] data, int length, Handle sent) {
    }

    Mailbox(String name) {
        this.name = name;
    }

    synchronized void post(Handle handle, float[] into, int length) {
        if (failure != null) {
            handle.fail(failure);
            return;
        }
        Arrived msg = arrived.poll();
        if (msg != null) {
            deliver(msg, handle, into, length);
        } else {
            posted.add(new Posted(handle, into, length));
        }
    }

    /**
     * The oldest posted receive, taken off the queue so that a reader can fill its buffer in place (no
     * message array); null when none is waiting. Messages and receives are never both queued, so taking
     * it keeps FIFO order.
     */
    synchronized Receive takePosted() {
        Posted p = posted.poll();
        return p == null ? null : new Receive(p.handle, p.into, p.length);
    }

    /** A posted receive handed to a reader; it must complete or fail the handle. */
    record Receive(Handle handle, float[] into, int length) {
        void fail(String name, int actualLength) {
            handle.fail(new TransportException(name + ": message of " + actualLength
                    + " floats, but the receive expects " + length));
        }
    }

    String name() {
        return name;
    }

    /** A message that owns its array (the socket reader's). */
    synchronized void arrive(float[] msg) {
        arrive(msg, msg.length, null);
    }

    /**
     * A message still in its sender's buffer (in-process): copied straight into the receive's buffer, and the
     * send completes only then, so the sender reuses its buffer safely and nothing is copied twice.
     */
    synchronized void arrive(float[] data, int length, Handle sent) {
        Posted p = posted.poll();
        Arrived msg = new Arrived(data, length, sent);
        if (p != null) {
            deliver(msg, p.handle, p.into, p.length);
        } else {
            arrived.add(msg);
        }
    }

    private void deliver(Arrived msg, Handle handle, float[] into, int length) {
        if (msg.length() != length) {
            TransportException e = new TransportException(name + ": message of " + msg.length()
                    + " floats, but the receive expects " + length);
            handle.fail(e);
            if (msg.sent() != null) {
                msg.sent().fail(e);
            }
            return;
        }
        System.arraycopy(msg.data(), 0, into, 0, length);
        handle.complete();
        if (msg.sent() != null) {
            msg.sent().complete();
        }
    }

    synchronized void fail(TransportException e) {
        if (failure == null) {
            failure = e;
        }
        Posted p;
        while ((p = posted.poll()) != null) {
            p.handle.fail(e);
        }
        Arrived a;
        while ((a = arrived.poll()) != null) {
            if (a.sent() != null) {
                a.sent().fail(e);
            }
        }
    }
}
