package io.pipefill.controlplane.run;

/**
 * QUEUED until its deployment is free, RUNNING, then SUCCEEDED, FAILED (with the reason in error) or
 * CANCELLED (through the API; error says from which state).
 */
public enum RunState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public boolean finished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
