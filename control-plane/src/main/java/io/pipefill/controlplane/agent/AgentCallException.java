package io.pipefill.controlplane.agent;

/** A call to a worker agent failed: names the worker, the call and why. */
public final class AgentCallException extends RuntimeException {
    public AgentCallException(String message, Throwable cause) {
        super(message, cause);
    }
}
