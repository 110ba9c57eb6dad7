package io.pipefill.controlplane.deployment;

import java.util.UUID;

/** One rank of a deployment: its PP stage and TP rank, and the worker that runs it. */
public record Placement(int rank, int stage, int tpRank, UUID workerId) {
}
