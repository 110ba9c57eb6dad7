package io.pipefill.worker.comm;

import io.pipefill.worker.engine.Activations;

/**
 * Moves hidden states between the stages of a pipeline at the level of {@link Activations}, so that a link
 * between GPUs can copy device to device while the CPU path keeps staging through host floats. Same contract
 * as {@link Transport}: asynchronous, FIFO per peer, every wait bounded, failures naming the peer rank.
 *
 * <p>A send's source rows must not change until its handle completes; a receive's destination holds the rows
 * once its handle completes (not before: the stage must await it before reading them) and must not be used by
 * anything else meanwhile.
 */
public interface ActivationLink extends AutoCloseable {
    /** Posts the send of rows [0, rows) of {@code src} to {@code peer}. */
    Handle send(int peer, Activations src, int rows);

    /** Posts the receive of exactly {@code rows} rows from {@code peer} into rows [0, rows) of {@code dst}. */
    Handle receive(int peer, Activations dst, int rows);

    /** Releases what the link holds; in-flight transfers must have been awaited. */
    @Override
    void close();

    /** Today's path: rows go to host floats and over {@code transport}'s hidden-state channel. */
    static ActivationLink hostStaging(Transport transport) {
        return new HostStagingLink(transport);
    }

    /** Every rank's link of one process-wide medium (device-local links share copy streams and match sends with receives). */
    interface Fabric extends AutoCloseable {
        ActivationLink endpoint(int rank);

        @Override
        void close();
    }
}
