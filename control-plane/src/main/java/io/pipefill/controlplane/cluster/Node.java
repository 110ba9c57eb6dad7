package io.pipefill.controlplane.cluster;

import io.pipefill.model.agent.GpuInventory;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A machine workers run on, with its GPU inventory and labels. */
public record Node(UUID id, String name, String host, int cpuCores, long memoryBytes, List<GpuInventory> gpus,
                   Map<String, String> labels, NodeHealth health, Instant lastHeartbeat, Instant createdAt) {
}
