package io.pipefill.controlplane.cluster;

import java.util.List;

/** Published when workers are marked lost (missed heartbeats, or their pod is gone). */
public record WorkersLost(List<Worker> workers) {
}
