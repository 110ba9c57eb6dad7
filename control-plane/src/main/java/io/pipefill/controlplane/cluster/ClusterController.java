package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.common.NotFoundException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Operators' view of the cluster (admin token): nodes, workers, draining. */
@RestController
@RequestMapping("/api/v1")
class ClusterController {
    private final ClusterRepository cluster;
    private final Duration retention;

    ClusterController(ClusterRepository cluster, PipefillProperties props) {
        this.cluster = cluster;
        this.retention = props.lostWorkerRetention();
    }

    private Instant retiredBefore() {
        return Instant.now().minus(retention);
    }

    @GetMapping("/nodes")
    Mono<List<Node>> nodes() {
        return Blocking.call(cluster::nodes);
    }

    @GetMapping("/nodes/{id}")
    Mono<NodeDetails> node(@PathVariable("id") UUID id) {
        return Blocking.call(() -> new NodeDetails(cluster.node(id).orElseThrow(() -> new NotFoundException("node", id)),
                cluster.currentWorkers(id, retiredBefore())));
    }

    /** The node becomes DRAINING and its live workers DRAINED: no new placements there. */
    @PostMapping("/nodes/{id}/drain")
    Mono<NodeDetails> drainNode(@PathVariable("id") UUID id) {
        return Blocking.call(() -> new NodeDetails(cluster.drainNode(id).orElseThrow(() -> new NotFoundException("node", id)),
                cluster.currentWorkers(id, retiredBefore())));
    }

    /**
     * The current workers (all but those LOST for longer than {@code pipefill.lost-worker-retention} that hold
     * no live deployment's shard), or every worker in one state ({@code ?state=READY}, {@code ?state=LOST}).
     */
    @GetMapping("/workers")
    Mono<List<Worker>> workers(@RequestParam(name = "state", required = false) WorkerState state) {
        return Blocking.call(() -> state == null ? cluster.currentWorkers(retiredBefore())
                : cluster.workers().stream().filter(w -> w.state() == state).toList());
    }

    @GetMapping("/workers/{id}")
    Mono<Worker> worker(@PathVariable("id") UUID id) {
        return Blocking.call(() -> cluster.worker(id).orElseThrow(() -> new NotFoundException("worker", id)));
    }

    /** DRAINED: kept out of new placements (a LOST worker stays LOST). */
    @PostMapping("/workers/{id}/drain")
    Mono<Worker> drainWorker(@PathVariable("id") UUID id) {
        return Blocking.call(() -> cluster.drainWorker(id).orElseThrow(() -> new NotFoundException("worker", id)));
    }
}
