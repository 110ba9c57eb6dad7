package io.pipefill.model.agent;

/**
 * A worker agent's state as the control plane polls it. deploymentId and rank describe the assigned
 * shard (null when none), runId the run in progress (null when none), error why loading failed.
 */
public record AgentStatus(String workerId, AgentState state, String deploymentId, Integer rank, String runId,
                          String error, long weightBytes, long kvCacheBytes) {
}
