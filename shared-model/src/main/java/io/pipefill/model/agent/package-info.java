/**
 * The control-plane ↔ worker-agent protocol: JSON bodies of the HTTP calls between them. Both sides
 * serialise these records by their component names (no annotations, so either Jackson line reads them).
 *
 * <p>Worker → control plane: {@code POST /api/v1/agent/workers} (bearer: the join token, which admits a
 * registration and nothing else; the worker's own agent token in the {@code Pipefill-Agent-Token} header) with a
 * {@link WorkerRegistration} answered by {@link RegistrationAccepted} and the worker's own credential in the
 * {@code Pipefill-Worker-Credential} header, the bearer of every later call; {@code POST
 * /api/v1/agent/workers/{id}/heartbeat} with a {@link Heartbeat} (404 means "unknown, register again");
 * {@code POST /api/v1/agent/runs/{runId}/reports} with a {@link RunReport}, or {@code .../reports/batch} with
 * a rank's queued reports as a JSON array, applied in order.
 *
 * <p>Control plane → worker agent (bearer: that worker's agent token), paths under the worker's {@code agentUrl}:
 * {@code GET /agent/status} → {@link AgentStatus}; {@code PUT /agent/shard} with a {@link ShardAssignment}
 * (idempotent; loading goes on in the background, status shows it); {@code DELETE /agent/shard};
 * {@code POST /agent/runs/{runId}/open} → {@link DataEndpoint} (idempotent per run: the same port again);
 * {@code POST /agent/runs/{runId}/start} with a {@link RunStart} (202; reports follow; its {@code dataSecret}
 * admits the run's ranks at each other's data ports);
 * {@code DELETE /agent/runs/{runId}} aborts.
 */
package io.pipefill.model.agent;
