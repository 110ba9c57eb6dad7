/**
 * The control-plane ↔ worker-agent protocol: JSON bodies of the HTTP calls between them. Both sides
 * serialise these records by their component names (no annotations, so either Jackson line reads them).
 *
 * <p>Worker → control plane (bearer: the join token): {@code POST /api/v1/agent/workers} with a
 * {@link WorkerRegistration} answered by {@link RegistrationAccepted}; {@code POST
 * /api/v1/agent/workers/{id}/heartbeat} with a {@link Heartbeat} (404 means "unknown, register again");
 * {@code POST /api/v1/agent/runs/{runId}/reports} with a {@link RunReport}, or {@code .../reports/batch} with
 * a rank's queued reports as a JSON array, applied in order.
 *
 * <p>Control plane → worker agent (bearer: the join token), paths under the worker's {@code agentUrl}:
 * {@code GET /agent/status} → {@link AgentStatus}; {@code PUT /agent/shard} with a {@link ShardAssignment}
 * (idempotent; loading goes on in the background, status shows it); {@code DELETE /agent/shard};
 * {@code POST /agent/runs/{runId}/open} → {@link DataEndpoint} (idempotent per run: the same port again);
 * {@code POST /agent/runs/{runId}/start} with a {@link RunStart} (202; reports follow);
 * {@code DELETE /agent/runs/{runId}} aborts.
 */
package io.pipefill.model.agent;
