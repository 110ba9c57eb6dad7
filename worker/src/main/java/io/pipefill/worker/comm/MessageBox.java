package io.pipefill.worker.comm;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * The control messages of one (peer, channel), in arrival order: small byte payloads (an encoded record),
 * taken by a blocking receive bounded by the transport's timeout. A lost peer fails every waiting and later
 * receive with the reason.
 */
final class MessageBox {
    private final String name;
    private final ArrayDeque<byte[]> arrived = new ArrayDeque<>();
    private TransportException failure;

    MessageBox(String name) {
        this.name = name;
    }

    synchronized void arrive(byte[] message) {
        arrived.add(message);
        notifyAll();
    }

    synchronized void fail(TransportException e) {
        if (failure == null) {
            failure = e;
        }
        notifyAll();
    }

    /** The next message; fails naming the peer when it is lost or nothing arrives within {@code timeout}. */
    synchronized byte[] take(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (arrived.isEmpty()) {
            if (failure != null) {
                throw failure;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TransportException("no control message " + name + " within " + timeout.toSeconds() + " s");
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TransportException("interrupted while waiting for a control message " + name);
            }
        }
        return arrived.poll();
    }
}
