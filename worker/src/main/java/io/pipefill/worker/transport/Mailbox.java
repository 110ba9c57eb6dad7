package io.pipefill.worker.transport;

import java.util.ArrayDeque;

/**
 * Matches arriving messages of one (peer, channel) with posted receives, in FIFO order on both sides: a
 * message that arrives before its receive waits here; a receive posted first is filled on arrival.
 */
final class Mailbox {
    private final String name;
    private final ArrayDeque<float[]> arrived = new ArrayDeque<>();
    private final ArrayDeque<Posted> posted = new ArrayDeque<>();
    private TransportException failure;

    private record Posted(Handle handle, float[] into, int length) {
    }

    Mailbox(String name) {
        this.name = name;
    }

    synchronized void post(Handle handle, float[] into, int length) {
        if (failure != null) {
            handle.fail(failure);
            return;
        }
        float[] msg = arrived.poll();
        if (msg != null) {
            deliver(msg, handle, into, length);
        } else {
            posted.add(new Posted(handle, into, length));
        }
    }

    synchronized void arrive(float[] msg) {
        Posted p = posted.poll();
        if (p != null) {
            deliver(msg, p.handle, p.into, p.length);
        } else {
            arrived.add(msg);
        }
    }

    private void deliver(float[] msg, Handle handle, float[] into, int length) {
        if (msg.length != length) {
            handle.fail(new TransportException(name + ": message of " + msg.length + " floats, but the receive expects "
                    + length));
            return;
        }
        System.arraycopy(msg, 0, into, 0, length);
        handle.complete();
    }

    synchronized void fail(TransportException e) {
        if (failure == null) {
            failure = e;
        }
        Posted p;
        while ((p = posted.poll()) != null) {
            p.handle.fail(e);
        }
    }
}
