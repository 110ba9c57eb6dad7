package io.pipefill.worker.comm;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/** Ranks as threads of one process, for tests: messages are copied between mailboxes in memory. */
public final class InProcessTransport implements Transport {
    /** The shared medium all ranks of one world talk through. */
    public static final class Fabric {
        private final int worldSize;
        private final Duration timeout;
        private final ConcurrentHashMap<String, Mailbox> boxes = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<String, MessageBox> messageBoxes = new ConcurrentHashMap<>();

        public Fabric(int worldSize, Duration timeout) {
            this.worldSize = worldSize;
            this.timeout = timeout;
        }

        public Transport endpoint(int rank) {
            return new InProcessTransport(this, rank);
        }

        MessageBox messages(int from, int to, int channel) {
            return messageBoxes.computeIfAbsent(from + ">" + to + "#" + channel,
                    k -> new MessageBox("from rank " + from + " to rank " + to + " on channel " + channel));
        }

        Mailbox box(int from, int to, int channel) {
            return boxes.computeIfAbsent(from + ">" + to + "#" + channel,
                    k -> new Mailbox("from rank " + from + " to rank " + to + " on channel " + channel));
        }
    }

    private final Fabric fabric;
    private final int rank;

    private InProcessTransport(Fabric fabric, int rank) {
        this.fabric = fabric;
        this.rank = rank;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return fabric.worldSize;
    }

    @Override
    public Handle isend(int peer, int channel, float[] data, int length) {
        Handle sent = new Handle("send to rank " + peer + " on channel " + channel, fabric.timeout);
        fabric.box(rank, peer, channel).arrive(data, length, sent);
        return sent;
    }

    @Override
    public Handle irecv(int peer, int channel, float[] into, int length) {
        Handle h = new Handle("receive from rank " + peer + " on channel " + channel, fabric.timeout);
        fabric.box(peer, rank, channel).post(h, into, length);
        return h;
    }

    @Override
    public void sendMessage(int peer, int channel, byte[] message) {
        fabric.messages(rank, peer, channel).arrive(message);
    }

    @Override
    public byte[] receiveMessage(int peer, int channel) {
        return fabric.messages(peer, rank, channel).take(fabric.timeout);
    }

    @Override
    public void close() {
        // nothing held
    }
}
