package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.common.Sha256;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.model.agent.AgentState;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.WorkerRegistration;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import reactor.core.publisher.Mono;

/**
 * The worker-facing routes: registration (the join token admits it; the answer carries the worker's own
 * credential) and heartbeats (the worker's credential, for its own id only).
 */
@RestController
@RequestMapping("/api/v1/agent/workers")
class AgentController {
    private static final Logger log = LoggerFactory.getLogger(AgentController.class);

    private final ClusterRepository cluster;
    private final WorkerCredentials credentials;
    private final AgentUrlPolicy urls;
    private final AgentLiveness liveness;
    private final PipefillProperties props;
    private final ApplicationEventPublisher events;

    AgentController(ClusterRepository cluster, WorkerCredentials credentials, AgentUrlPolicy urls, AgentLiveness liveness,
                    PipefillProperties props, ApplicationEventPublisher events) {
        this.cluster = cluster;
        this.credentials = credentials;
        this.urls = urls;
        this.liveness = liveness;
        this.props = props;
        this.events = events;
    }

    /**
     * Joins a worker: 201 with its id and the heartbeat interval, and its credential in the
     * {@value WorkerCredentials#WORKER_CREDENTIAL_HEADER} header. The request carries the token the worker's
     * agent will accept in {@value WorkerCredentials#AGENT_TOKEN_HEADER}. An agent URL held by a live worker is
     * taken over only when that worker no longer answers there to its own token (a restarted process), or when
     * the request carries that worker's credential; otherwise 409 naming the holder.
     */
    @PostMapping
    Mono<ResponseEntity<RegistrationAccepted>> register(
            @RequestBody WorkerRegistration registration,
            @RequestHeader(name = WorkerCredentials.AGENT_TOKEN_HEADER, required = false) String agentToken,
            @RequestHeader(name = WorkerCredentials.WORKER_CREDENTIAL_HEADER, required = false) String heldCredential) {
        if (agentToken == null || !WorkerCredentials.TOKEN.matcher(agentToken).matches()) {
            return Mono.error(new IllegalArgumentException("header " + WorkerCredentials.AGENT_TOKEN_HEADER + ": "
                    + (agentToken == null ? "missing" : "malformed") + "; a registration carries the token this worker's agent"
                    + " API accepts from the control plane: 32 to 256 of A-Z a-z 0-9 . _ ~ + / = -"));
        }
        return Blocking.call(() -> {
                    RegistrationRules.check(registration, urls); // resolves the agent URL's host: blocking
                    List<UUID> gone = new ArrayList<>();
                    for (Worker holder : cluster.liveAt(registration.agentUrl())) {
                        if (heldCredential != null && credentials.isCredentialOf(holder.id(), heldCredential)) {
                            gone.add(holder.id()); // the holder itself registering again
                            continue;
                        }
                        AgentLiveness.Answer a = liveness.probe(holder);
                        if (a != AgentLiveness.Answer.GONE) {
                            throw new ConflictException("agentUrl " + registration.agentUrl() + " is held by live worker "
                                    + holder.id() + " (last heartbeat " + holder.lastHeartbeat() + "), which "
                                    + (a == AgentLiveness.Answer.ALIVE ? "still answers there" : "did not answer in time")
                                    + "; a worker restarting at this address is admitted once that one no longer answers there,"
                                    + " or is LOST (no heartbeat for " + props.heartbeatTimeout().toSeconds() + " s)");
                        }
                        gone.add(holder.id());
                    }
                    String credential = WorkerCredentials.issue();
                    ClusterRepository.Registered r = cluster.registerReplacing(registration, Instant.now(),
                            Sha256.of(credential), agentToken, gone);
                    if (!r.replaced().isEmpty()) {
                        // a restarted worker at the same address: whatever its predecessor held is gone
                        log.info("worker {} at {} replaces worker(s) {} that no longer answer there", r.worker().id(),
                                registration.agentUrl(), r.replaced().stream().map(Worker::id).toList());
                        events.publishEvent(new WorkersLost(r.replaced()));
                    }
                    return new Issued(r.worker(), credential);
                })
                .map(i -> ResponseEntity.created(URI.create("/api/v1/workers/" + i.worker().id()))
                        .header(WorkerCredentials.WORKER_CREDENTIAL_HEADER, i.credential())
                        .header("Cache-Control", "no-store")
                        .body(new RegistrationAccepted(i.worker().id().toString(), i.worker().nodeId().toString(),
                                props.heartbeatInterval().toMillis())));
    }

    private record Issued(Worker worker, String credential) {
        @Override
        public String toString() {
            return "Issued[" + worker.id() + "]"; // never the credential
        }
    }

    /**
     * 204; 404 when the worker is LOST (it must register again); 403 when the credential is another worker's.
     * A worker that reports no shard, a failed one or another one while it holds a rank of a READY deployment
     * has drifted from its placement: {@link WorkerStateDrifted} degrades that deployment.
     */
    @PostMapping("/{id}/heartbeat")
    Mono<ResponseEntity<Void>> heartbeat(@PathVariable("id") UUID id, @RequestBody Heartbeat heartbeat,
                                         @AuthenticationPrincipal WorkerIdentity sender) {
        if (sender == null || !sender.workerId().equals(id)) {
            return Mono.error(new ResponseStatusException(HttpStatus.FORBIDDEN, "this credential is worker "
                    + (sender == null ? "?" : sender.workerId()) + "'s; it sends heartbeats for that worker only, not " + id));
        }
        RegistrationRules.check(heartbeat);
        return Blocking.call(() -> {
            if (!cluster.heartbeat(id, heartbeat, Instant.now())) {
                return false;
            }
            reconcile(id, heartbeat);
            return true;
        }).map(known -> {
            if (!known) {
                throw new NotFoundException("worker", id + " (lost: register again)");
            }
            return ResponseEntity.noContent().<Void>build();
        });
    }

    private void reconcile(UUID id, Heartbeat h) {
        for (ClusterRepository.ReadyPlacement p : cluster.readyPlacements(id)) {
            boolean holdsIt = p.deploymentId().toString().equals(h.deploymentId())
                    && (h.state() == AgentState.READY || h.state() == AgentState.RUNNING || h.state() == AgentState.LOADING);
            if (!holdsIt) {
                Worker w = cluster.worker(id).orElseThrow();
                String reason = "worker " + id + " (rank " + p.rank() + ", " + w.agentUrl() + ") reports " + h.state()
                        + (h.deploymentId() == null ? " with no shard" : " for deployment " + h.deploymentId())
                        + " while placed in this READY deployment: its shard is gone (restarted or released)";
                events.publishEvent(new WorkerStateDrifted(w, p.deploymentId(), p.rank(), reason));
            }
        }
    }
}
