package io.pipefill.model.agent;

/** A worker's periodic sign of life with its state; deploymentId and runId are null when none. */
public record Heartbeat(AgentState state, String deploymentId, String runId) {
}
