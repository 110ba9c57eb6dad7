package io.pipefill.model.agent;

/** What a worker agent is doing, as it reports in heartbeats and status. */
public enum AgentState {
    /** Registered, no shard assigned. */
    IDLE,
    /** Reading its shard and warming up. */
    LOADING,
    /** Shard loaded; can take a run. */
    READY,
    /** Running a prefill. */
    RUNNING,
    /** The shard failed to load; {@link AgentStatus#error()} says why. */
    FAILED
}
