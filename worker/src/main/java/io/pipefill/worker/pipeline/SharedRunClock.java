package io.pipefill.worker.pipeline;

import io.pipefill.worker.transport.Transport;

/**
 * The run clock without a coordinator: every rank waits at a barrier, then rank 0 broadcasts its wall clock
 * as the run's epoch, so that all timelines are measured from one instant (on separate hosts as well as
 * their wall clocks agree). The transport carries float32, which holds integers exactly only up to 2^24, so
 * the epoch travels as four 16-bit pieces.
 */
public final class SharedRunClock implements StageWorker.RunClockSource {
    private static final int PARTS = 4;
    private final Transport transport;

    public SharedRunClock(Transport transport) {
        this.transport = transport;
    }

    @Override
    public RunClock awaitStart() {
        int[] world = transport.allRanks();
        transport.barrier(world);
        float[] msg = transport.rank() == 0 ? encode(RunClock.nowMicros()) : new float[PARTS];
        transport.broadcast(0, world, msg, PARTS);
        return new RunClock(decode(msg));
    }

    /** Splits a long into four unsigned 16-bit pieces, low first; each is exact as a float. */
    static float[] encode(long value) {
        float[] parts = new float[PARTS];
        for (int i = 0; i < PARTS; i++) {
            parts[i] = (float) ((value >>> (16 * i)) & 0xFFFF);
        }
        return parts;
    }

    static long decode(float[] parts) {
        long value = 0;
        for (int i = 0; i < PARTS; i++) {
            value |= ((long) parts[i] & 0xFFFF) << (16 * i);
        }
        return value;
    }
}
