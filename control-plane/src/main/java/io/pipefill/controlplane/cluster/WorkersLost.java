package io.pipefill.controlplane.cluster;

import java.util.List;

/**
 * Application event: these workers stopped sending heartbeats and were just marked LOST (each appears in
 * exactly one event). Published by {@link LostWorkerSweep} on its scheduler thread; listeners degrade the
 * deployments and fail the runs that used them.
 */
public record WorkersLost(List<Worker> workers) {
    public WorkersLost {
        workers = List.copyOf(workers);
    }
}
