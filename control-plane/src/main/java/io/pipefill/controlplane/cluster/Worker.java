package io.pipefill.controlplane.cluster;

import java.time.Instant;
import java.util.UUID;

/** A registered worker agent: its node, backend, agent URL, state and the deployment whose shard it holds. */
public record Worker(UUID id, UUID nodeId, String backend, String agentUrl, String podName, WorkerState state,
                     UUID deploymentId, Instant lastHeartbeat, Instant registeredAt) {
}
