package io.pipefill.worker.pipeline;

import io.pipefill.worker.comm.Transport;

/**
 * The run clock without a coordinator: every rank waits at a barrier, then rank 0 sends its wall clock as the
 * run's epoch (a control message), so that all timelines are measured from one instant (on separate hosts as
 * well as their wall clocks agree).
 */
public final class SharedRunClock implements StageWorker.RunClockSource {
    /** Rank 0's wall clock when every rank had reached the barrier, in µs since the Unix epoch. */
    record Epoch(long micros) {
    }

    private final Transport transport;

    public SharedRunClock(Transport transport) {
        this.transport = transport;
    }

    @Override
    public RunClock awaitStart() {
        int[] world = transport.allRanks();
        transport.barrier(world);
        Epoch mine = transport.rank() == 0 ? new Epoch(RunClock.nowMicros()) : null;
        return new RunClock(transport.broadcast(0, world, mine, Epoch.class).micros());
    }
}
