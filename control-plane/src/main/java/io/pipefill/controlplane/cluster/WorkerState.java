package io.pipefill.controlplane.cluster;

import io.pipefill.model.agent.AgentState;

/**
 * A worker's state as the control plane records it: the agent's own states, plus LOST (heartbeats
 * stopped) and DRAINED (taken out of placement by an operator).
 */
public enum WorkerState {
    IDLE, LOADING, READY, RUNNING, FAILED, LOST, DRAINED;

    public static WorkerState of(AgentState s) {
        return valueOf(s.name());
    }

    /** Whether the worker can be given a new shard. */
    public boolean placeable() {
        return this == IDLE || this == READY || this == FAILED;
    }
}
