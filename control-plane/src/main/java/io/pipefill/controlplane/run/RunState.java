package io.pipefill.controlplane.run;

/** QUEUED until its deployment is free, RUNNING, then SUCCEEDED or FAILED (with the reason in error). */
public enum RunState {
    QUEUED, RUNNING, SUCCEEDED, FAILED;

    public boolean finished() {
        return this == SUCCEEDED || this == FAILED;
    }
}
