package io.pipefill.worker.comm;

/**
 * Moves float messages (tensors) between ranks, and typed control messages (records such as the run's epoch,
 * the chunking decision or NCCL's unique id, sent as JSON: {@link #send}, {@link #receive}, {@link #broadcast}). Float sends and receives are asynchronous: they return a {@link Handle}
 * that is waited on later, so a stage can post the send of chunk c and compute chunk c+1 meanwhile.
 * Delivery is FIFO per (peer, channel). Every wait is bounded by the transport's timeout, and a lost peer
 * fails the wait with an error naming it. The stage loop never knows whether bytes go over sockets, memory
 * or NCCL.
 */
public interface Transport extends AutoCloseable {
    /** Hidden states between consecutive stages. */
    int CHANNEL_HIDDEN = 1;
    /** Generated token ids from the last stage back to the first. */
    int CHANNEL_TOKEN = 2;
    int CHANNEL_ALL_REDUCE = 3;
    int CHANNEL_BROADCAST = 4;
    /** Control messages: records, not tensors. */
    int CHANNEL_CONTROL = 5;

    int rank();

    int worldSize();

    /** Every rank, 0 .. worldSize − 1: the group of a world-wide barrier or broadcast. */
    default int[] allRanks() {
        return java.util.stream.IntStream.range(0, worldSize()).toArray();
    }

    /** Posts the send of {@code data[0, length)}; {@code data} must not change until the handle completes. */
    Handle isend(int peer, int channel, float[] data, int length);

    /** Posts a receive of exactly {@code length} floats into {@code into[0, length)}. */
    Handle irecv(int peer, int channel, float[] into, int length);

    /** Sends one control message (its bytes, which must not change afterwards); FIFO per (peer, channel). */
    void sendMessage(int peer, int channel, byte[] message);

    /** The next control message from {@code peer} on {@code channel}, waiting at most the transport's timeout. */
    byte[] receiveMessage(int peer, int channel);

    /** Sends a record to {@code peer} as a typed control message (JSON on the control channel), never packed into floats. */
    default void send(int peer, Object message) {
        sendMessage(peer, CHANNEL_CONTROL, ControlMessages.encode(message));
    }

    /** The next control message from {@code peer}, read as a {@code type}; fails naming the peer if it is not one. */
    default <T> T receive(int peer, Class<T> type) {
        return ControlMessages.decode(receiveMessage(peer, CHANNEL_CONTROL), type, peer);
    }

    /**
     * Sends {@code message} from {@code root} to every other rank of {@code group} and returns it on every rank
     * (the root's own, the others' as received). Ranks other than the root pass null.
     */
    default <T> T broadcast(int root, int[] group, T message, Class<T> type) {
        if (rank() != root) {
            return receive(root, type);
        }
        byte[] bytes = ControlMessages.encode(message);
        for (int peer : group) {
            if (peer != root) {
                sendMessage(peer, CHANNEL_CONTROL, bytes);
            }
        }
        return message;
    }

    /**
     * Sums {@code data[0, length)} over the ranks of {@code group} (which contains this rank). Contributions are
     * added in group order, so every rank ends with bit-identical values.
     */
    default void allReduceSum(int[] group, float[] data, int length) {
        if (group.length == 1) {
            return;
        }
        float[][] parts = new float[group.length][];
        Handle[] sends = new Handle[group.length];
        Handle[] recvs = new Handle[group.length];
        for (int i = 0; i < group.length; i++) {
            if (group[i] != rank()) {
                parts[i] = new float[length];
                recvs[i] = irecv(group[i], CHANNEL_ALL_REDUCE, parts[i], length);
            }
        }
        float[] mine = java.util.Arrays.copyOf(data, length);
        for (int i = 0; i < group.length; i++) {
            if (group[i] != rank()) {
                sends[i] = isend(group[i], CHANNEL_ALL_REDUCE, mine, length);
            } else {
                parts[i] = mine;
            }
        }
        for (int i = 0; i < group.length; i++) {
            if (recvs[i] != null) {
                recvs[i].await();
            }
        }
        java.util.Arrays.fill(data, 0, length, 0f);
        for (float[] p : parts) {
            for (int k = 0; k < length; k++) {
                data[k] += p[k];
            }
        }
        for (Handle s : sends) {
            if (s != null) {
                s.await();
            }
        }
    }

    /** Copies {@code data[0, length)} from {@code root} to every other rank of {@code group}. */
    default void broadcast(int root, int[] group, float[] data, int length) {
        if (rank() == root) {
            Handle[] sends = new Handle[group.length];
            for (int i = 0; i < group.length; i++) {
                if (group[i] != root) {
                    sends[i] = isend(group[i], CHANNEL_BROADCAST, data, length);
                }
            }
            for (Handle h : sends) {
                if (h != null) {
                    h.await();
                }
            }
        } else {
            irecv(root, CHANNEL_BROADCAST, data, length).await();
        }
    }

    /** Returns once every rank of {@code group} has reached it. */
    default void barrier(int[] group) {
        allReduceSum(group, new float[1], 1);
    }

    @Override
    void close();
}
