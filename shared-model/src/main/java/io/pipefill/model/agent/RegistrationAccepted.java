package io.pipefill.model.agent;

/** The control plane's answer to a registration: ids and how often to send heartbeats. */
public record RegistrationAccepted(String workerId, String nodeId, long heartbeatIntervalMs) {
}
