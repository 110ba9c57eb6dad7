package io.pipefill.controlplane.deployment;

import io.pipefill.controlplane.agent.AgentClient;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Node;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerStateDrifted;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.agent.AgentState;
import io.pipefill.model.agent.AgentStatus;
import io.pipefill.model.agent.ShardAssignment;
import io.pipefill.model.ModelDirectory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import io.pipefill.controlplane.common.InvalidFieldsException;
import java.util.LinkedHashMap;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;

/**
 * Creates deployments (validate the layout against the model, place ranks on workers, record it), has the
 * workers load their shards in the background (LOADING → READY, or FAILED naming the worker), deletes them
 * (workers release their shards) and degrades them when a placed worker is lost. Blocking methods: call
 * through {@code Blocking}.
 */
@Service
public class DeploymentService {
    private static final Logger log = LoggerFactory.getLogger(DeploymentService.class);

    private final DeploymentRepository deployments;
    private final ClusterRepository cluster;
    private final ModelRepository models;
    private final AgentClient agents;
    private final Duration loadTimeout;
    private final PlannedChunking planned;
    private final ApplicationEventPublisher events;
    private final ExecutorService loaders = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "shard-loader");
        t.setDaemon(true);
        return t;
    });

    public DeploymentService(DeploymentRepository deployments, ClusterRepository cluster, ModelRepository models,
                             AgentClient agents, @Value("${pipefill.load-timeout:10m}") Duration loadTimeout,
                             PlannedChunking planned, ApplicationEventPublisher events) {
        this.planned = planned;
        this.events = events;
        this.deployments = deployments;
        this.cluster = cluster;
        this.models = models;
        this.agents = agents;
        this.loadTimeout = loadTimeout;
    }

    /** Validates, places and records the deployment (state LOADING), then starts loading its shards. */
    public Deployment create(CreateDeploymentRequest r) {
        RegisteredModel model = resolveModel(r.model());
        if (deployments.byName(r.name()).filter(d -> d.state() != DeploymentState.DELETED).isPresent()) {
            throw new ConflictException("a deployment named '" + r.name() + "' already exists");
        }
        ModelConfig config = ModelDirectory.open(java.nio.file.Path.of(model.location())).config();
        int pp = r.ppOrDefault();
        int tp = r.tpOrDefault();
        String partition = r.layersPerStage() == null ? null
                : r.layersPerStage().stream().map(String::valueOf).collect(Collectors.joining(","));
        Topology topo;
        try {
            topo = Topology.of(config, pp, tp, partition);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace("--pp", "pp").replace("--tp", "tp")
                    + " (model " + model.name() + ")", e);
        }
        int maxTokens = r.maxTokens() == null ? Math.min(config.maxPositionEmbeddings(), 32768) : r.maxTokens();
        if (maxTokens > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("maxTokens " + maxTokens + " exceeds the model's context of "
                    + config.maxPositionEmbeddings() + " positions");
        }
        String chunking = chunking(r, pp, maxTokens);
        List<Placement> placements = placementsFor(r, pp, tp);
        List<Integer> layers = new ArrayList<>();
        for (int n : topo.partition().layersPerStage()) {
            layers.add(n);
        }
        Deployment d = new Deployment(UUID.randomUUID(), r.name(), model.id(), pp, tp, layers,
                r.chunkSize() == null ? 2048 : r.chunkSize(), Deployment.DYNAMIC.equals(chunking),
                r.sigma() == null ? 0.75 : r.sigma(), chunking,
                r.calibration() == null ? null : ChunkCostCalibration.given(r.calibration()), maxTokens,
                r.threadsPerRank() == null ? 1 : r.threadsPerRank(), DeploymentState.LOADING,
                "loading shards on " + placements.size() + " worker(s)", placements, null, null);
        Deployment saved = deployments.insert(d);
        log.info("deployment {} ({}): {} PP {} × TP {} on workers {}", saved.name(), saved.id(), model.name(), pp, tp,
                placements.stream().map(p -> p.workerId().toString()).toList());
        loaders.submit(() -> load(saved, model));
        return saved;
    }

    /**
     * The chunking mode the request asks for ({@code chunking}, else {@code dynamicChunking} as before), refusing
     * (400, naming each field) settings that contradict it or a calibration that cannot be one.
     */
    private String chunking(CreateDeploymentRequest r, int pp, int maxTokens) {
        Map<String, String> problems = new LinkedHashMap<>();
        String mode = r.chunking() != null ? r.chunking()
                : Boolean.TRUE.equals(r.dynamicChunking()) ? Deployment.DYNAMIC : Deployment.FIXED;
        if (r.dynamicChunking() != null && r.chunking() != null && !mode.equals(Deployment.PLANNED)
                && r.dynamicChunking() != mode.equals(Deployment.DYNAMIC)) {
            problems.put("dynamicChunking", r.dynamicChunking() + " contradicts chunking " + mode
                    + "; give one of them (chunking: fixed, dynamic or planned)");
        }
        if (mode.equals(Deployment.PLANNED)) {
            problems.putAll(planned.problems(r, pp, maxTokens));
        } else if (r.calibration() != null) {
            problems.put("calibration", "only chunking planned uses a chunk-cost calibration; chunking is " + mode);
        }
        if (!problems.isEmpty()) {
            throw new InvalidFieldsException(problems.entrySet().stream()
                    .map(e -> new InvalidFieldsException.FieldProblem(e.getKey(), e.getValue())).toList());
        }
        return mode;
    }

    private List<Placement> placementsFor(CreateDeploymentRequest r, int pp, int tp) {
        List<Worker> all = cluster.workers();
        Set<UUID> busy = new HashSet<>();
        for (Deployment other : deployments.all(false)) {
            other.placements().forEach(p -> busy.add(p.workerId()));
        }
        List<Worker> free = all.stream().filter(w -> w.state().placeable() && !busy.contains(w.id())
                && w.backend().equals(r.backendOrDefault())).collect(Collectors.toCollection(ArrayList::new));
        if (r.workers() == null) {
            List<Node> nodes = cluster.nodes();
            return PlacementPlanner.place(pp, tp, free, nodes);
        }
        if (r.workers().size() != pp * tp) {
            throw new IllegalArgumentException("workers: lists " + r.workers().size() + " worker id(s); PP " + pp
                    + " × TP " + tp + " needs exactly " + pp * tp + ", one per rank");
        }
        Map<UUID, Worker> byId = all.stream().collect(Collectors.toMap(Worker::id, Function.identity()));
        List<Placement> out = new ArrayList<>();
        for (int rank = 0; rank < r.workers().size(); rank++) {
            UUID id = r.workers().get(rank);
            Worker w = byId.get(id);
            if (w == null) {
                throw new IllegalArgumentException("workers[" + rank + "]: no worker " + id);
            }
            if (!free.contains(w)) {
                throw new ConflictException("workers[" + rank + "]: worker " + id + " is " + w.state()
                        + (busy.contains(id) ? " and holds another deployment's shard" : "")
                        + (w.backend().equals(r.backendOrDefault()) ? "" : " with backend " + w.backend()));
            }
            out.add(new Placement(rank, rank / tp, rank % tp, id));
        }
        if (out.stream().map(Placement::workerId).distinct().count() != out.size()) {
            throw new IllegalArgumentException("workers: a worker may hold only one rank");
        }
        for (int s = 0; s < pp; s++) {
            int stage = s;
            long nodesInGroup = out.stream().filter(p -> p.stage() == stage).map(p -> byId.get(p.workerId()).nodeId()).distinct().count();
            if (nodesInGroup > 1) {
                throw new IllegalArgumentException("workers: stage " + s + "'s TP group spans " + nodesInGroup
                        + " nodes; a TP group must stay inside one node");
            }
        }
        return out;
    }

    private RegisteredModel resolveModel(String ref) {
        return models.byIdOrName(ref).orElseThrow(() -> new NotFoundException("model", ref));
    }

    /** Has every placed worker load its shard and waits for all to be READY; the first failure fails the deployment. */
    private void load(Deployment d, RegisteredModel model) {
        try {
            for (Placement p : d.placements()) {
                Worker w = worker(p.workerId());
                agents.assignShard(w, new ShardAssignment(d.id().toString(), model.location(), d.pp(), d.tp(),
                        d.layersPerStage(), p.rank(), d.threadsPerRank(), d.maxTokens())).block();
            }
            long deadline = System.nanoTime() + loadTimeout.toNanos();
            Set<Integer> ready = new HashSet<>();
            while (ready.size() < d.placements().size()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("shards not loaded within " + loadTimeout.toSeconds() + " s");
                }
                for (Placement p : d.placements()) {
                    if (ready.contains(p.rank())) {
                        continue;
                    }
                    Worker w = worker(p.workerId());
                    AgentStatus s = agents.status(w).block();
                    if (s.state() == AgentState.FAILED) {
                        throw new IllegalStateException("worker " + w.id() + " (rank " + p.rank() + ", " + w.agentUrl()
                                + ") failed to load its shard: " + s.error());
                    }
                    if (s.state() == AgentState.READY && d.id().toString().equals(s.deploymentId())) {
                        ready.add(p.rank());
                    }
                }
                Thread.sleep(200);
            }
            if (d.planned() && d.calibration() == null) {
                // its runs' schedules need the chunk costs of these workers: measured before the deployment is READY
                List<Integer> chunks = planned.calibrationChunks(d.maxTokens(), d.chunkSize());
                // only from LOADING: a worker lost while the shards loaded has made it DEGRADED, and it stays so
                if (deployments.moveState(d.id(), DeploymentState.LOADING, DeploymentState.LOADING, "shards loaded; measuring the chunk costs"
                        + " on its workers (a calibration run of " + chunks.stream().mapToInt(Integer::intValue).sum()
                        + " tokens in " + chunks.size() + " chunks of 64 to " + d.chunkSize() + " tokens)")) {
                    log.info("deployment {}: shards loaded, calibrating", d.name());
                    events.publishEvent(new ShardsLoaded(d.id(), chunks));
                }
            } else if (deployments.moveState(d.id(), DeploymentState.LOADING, DeploymentState.READY, null)) {
                log.info("deployment {} ready", d.name());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.warn("deployment {} failed: {}", d.name(), e.getMessage());
            deployments.setState(d.id(), DeploymentState.FAILED, e.getMessage());
        }
    }

    private Worker worker(UUID id) {
        return cluster.worker(id).orElseThrow(() -> new NotFoundException("worker", id));
    }

    /** Deletes a deployment: its workers release their shards (best effort: a lost worker has nothing to release). */
    public void delete(UUID id) {
        Deployment d = deployments.byId(id).orElseThrow(() -> new NotFoundException("deployment", id));
        if (d.state() == DeploymentState.DELETED) {
            throw new ConflictException("deployment " + id + " is already deleted");
        }
        long busy = deployments.unfinishedRuns(id);
        if (busy > 0) {
            // its workers are computing: releasing their shards now would leave them half torn down
            throw new ConflictException("deployment " + d.name() + " has " + busy
                    + " queued or running run(s); cancel them (POST /api/v1/runs/{id}/cancel) or delete it when they have finished");
        }
        deployments.delete(id);
        planned.forget(id);
        for (Placement p : d.placements()) {
            cluster.worker(p.workerId()).ifPresent(w -> {
                try {
                    agents.releaseShard(w).block();
                } catch (RuntimeException e) {
                    log.info("deployment {}: {} (ignored: the shard goes with the worker)", d.name(), e.getMessage());
                }
            });
        }
        log.info("deployment {} deleted", d.name());
    }

    public Deployment get(String ref) {
        return deployments.byIdOrName(ref).orElseThrow(() -> new NotFoundException("deployment", ref));
    }

    /** Fails a LOADING deployment that has no chunk-cost calibration (its calibration will not come). */
    public void failUncalibrated(UUID id, String reason) {
        if (deployments.moveState(id, DeploymentState.LOADING, DeploymentState.FAILED, reason)) {
            log.warn("deployment {} failed: {}", id, reason);
        }
    }

    public List<Deployment> list(boolean includeDeleted) {
        return deployments.all(includeDeleted);
    }

    /**
     * A worker whose heartbeat shows it no longer holds its shard (restarted in place, released) degrades the
     * READY deployment it is placed in, with the heartbeat's story as the reason.
     */
    @EventListener
    public void onWorkerStateDrifted(WorkerStateDrifted event) {
        deployments.byId(event.deploymentId()).filter(d -> d.state() == DeploymentState.READY).ifPresent(d -> {
            if (deployments.setState(d.id(), DeploymentState.DEGRADED, event.reason())) {
                log.warn("deployment {} degraded: {}", d.name(), event.reason());
            }
        });
    }

    /** A lost worker degrades every live deployment it holds a rank of. */
    @EventListener
    public void onWorkersLost(WorkersLost event) {
        for (Worker w : event.workers()) {
            for (Deployment d : deployments.usingWorker(w.id())) {
                int rank = d.placements().stream().filter(p -> p.workerId().equals(w.id())).findFirst().orElseThrow().rank();
                String reason = "worker " + w.id() + " (rank " + rank + ", " + w.agentUrl() + ") lost: no heartbeat since "
                        + w.lastHeartbeat();
                if (deployments.setState(d.id(), DeploymentState.DEGRADED, reason)) {
                    log.warn("deployment {} degraded: {}", d.name(), reason);
                }
            }
        }
    }
}
