package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.WorkerRegistration;
import java.net.URI;
import java.time.Instant;
import java.util.UUID;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** The worker-facing routes (join token): registration and heartbeats. */
@RestController
@RequestMapping("/api/v1/agent/workers")
class AgentController {
    private final ClusterRepository cluster;
    private final PipefillProperties props;
    private final ApplicationEventPublisher events;

    AgentController(ClusterRepository cluster, PipefillProperties props, ApplicationEventPublisher events) {
        this.cluster = cluster;
        this.props = props;
        this.events = events;
    }

    /** Joins a worker: 201 with its id and the heartbeat interval; an older worker at the same agent URL becomes LOST. */
    @PostMapping
    Mono<ResponseEntity<RegistrationAccepted>> register(@RequestBody WorkerRegistration registration) {
        RegistrationRules.check(registration);
        return Blocking.call(() -> {
                    ClusterRepository.Registered r = cluster.registerReplacing(registration, Instant.now());
                    if (!r.replaced().isEmpty()) {
                        // a restarted worker at the same address: whatever its predecessor held is gone
                        events.publishEvent(new WorkersLost(r.replaced()));
                    }
                    return r.worker();
                })
                .map(w -> ResponseEntity.created(URI.create("/api/v1/workers/" + w.id()))
                        .body(new RegistrationAccepted(w.id().toString(), w.nodeId().toString(),
                                props.heartbeatInterval().toMillis())));
    }

    /** 204; 404 when the worker is unknown or already LOST, which tells it to register again. */
    @PostMapping("/{id}/heartbeat")
    Mono<ResponseEntity<Void>> heartbeat(@PathVariable("id") UUID id, @RequestBody Heartbeat heartbeat) {
        RegistrationRules.check(heartbeat);
        return Blocking.call(() -> cluster.heartbeat(id, heartbeat, Instant.now())).map(known -> {
            if (!known) {
                throw new NotFoundException("worker", id + " (unknown or lost: register again)");
            }
            return ResponseEntity.noContent().<Void>build();
        });
    }
}
