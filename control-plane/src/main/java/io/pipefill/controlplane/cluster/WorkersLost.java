package io.pipefill.controlplane.cluster;

import java.util.List;

/**
 * Application event: these workers were just marked LOST (each appears in exactly one event), because they
 * stopped sending heartbeats ({@link LostWorkerSweep}) or because their Kubernetes pod went away
 * ({@code kubernetes.WorkerPodReconciler}); both publish on a scheduler thread. Listeners degrade the
 * deployments and fail the runs that used them.
 */
public record WorkersLost(List<Worker> workers) {
    public WorkersLost {
        workers = List.copyOf(workers);
    }
}
