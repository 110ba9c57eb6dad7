package io.pipefill.controlplane.cluster;

import java.util.List;

/**
 * Published when workers were marked LOST (heartbeats stopped, or their Kubernetes pod went away), so that
 * deployments and runs that used them can react.
 */
public record WorkersLost(List<Worker> workers) {
    public WorkersLost {
        workers = List.copyOf(workers);
    }
}
