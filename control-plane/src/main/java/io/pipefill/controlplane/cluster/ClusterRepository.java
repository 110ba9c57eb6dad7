package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.common.Json;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.WorkerRegistration;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import io.pipefill.controlplane.common.ConflictException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.core.type.TypeReference;

/** Nodes and workers in PostgreSQL. Blocking: call through {@code Blocking}. */
@Repository
public class ClusterRepository {
    private static final String NODE_COLUMNS = "id, name, host, cpu_cores, memory_bytes, gpus::text, labels::text, health, last_heartbeat, created_at";
    private static final String WORKER_COLUMNS = "id, node_id, backend, agent_url, pod_name, state, deployment_id, last_heartbeat, registered_at";
    /** A worker that is not retired: not LOST, or lost recently, or still placed in a live deployment. */
    private static final String NOT_RETIRED = "not (w.state = 'LOST' and w.last_heartbeat < :cutoff and not exists ("
            + "select 1 from placements p join deployments d on d.id = p.deployment_id "
            + "where p.worker_id = w.id and d.state <> 'DELETED'))";

    private final JdbcClient jdbc;
    private final Json json;

    public ClusterRepository(JdbcClient jdbc, Json json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /**
     * Records a registration: the node is created or updated by name and a new worker row is created with its
     * credential's hash and its agent token. The live workers at the same agent URL must all be in
     * {@code replacing} (the caller found them gone: a restarted process); they are marked lost. A live worker at
     * that URL the caller did not clear (one that appeared meanwhile) refuses the registration with 409.
     */
    @Transactional
    public Registered registerReplacing(WorkerRegistration r, Instant now, byte[] credentialHash, String agentToken,
                                        Collection<UUID> replacing) {
        UUID nodeId = upsertNode(r, now);
        List<Worker> replaced = replacing.isEmpty() ? List.of() : jdbc.sql("update workers set state = 'LOST' "
                        + "where agent_url = :url and state <> 'LOST' and id in (:ids) returning " + WORKER_COLUMNS)
                .param("url", r.agentUrl()).param("ids", List.copyOf(replacing)).query(this::workerRow).list();
        List<Worker> holders = liveAt(r.agentUrl());
        if (!holders.isEmpty()) {
            throw new ConflictException("agentUrl " + r.agentUrl() + " is held by live worker " + holders.get(0).id()
                    + "; a worker restarting at the same address is admitted once that worker stops answering there");
        }
        UUID id = UUID.randomUUID();
        jdbc.sql("""
                        insert into workers (id, node_id, backend, agent_url, pod_name, state, last_heartbeat, registered_at,
                                             credential_hash, agent_token)
                        values (:id, :node, :backend, :url, :pod, 'IDLE', :now, :now, :hash, :agentToken)""")
                .param("id", id).param("node", nodeId).param("backend", r.backend()).param("url", r.agentUrl())
                .param("pod", r.podName()).param("now", Timestamp.from(now))
                .param("hash", credentialHash).param("agentToken", agentToken).update();
        if (!replaced.isEmpty()) {
            markNodesWithoutLiveWorkersLost();
        }
        return new Registered(worker(id).orElseThrow(), replaced);
    }

    private UUID upsertNode(WorkerRegistration r, Instant now) {
        return jdbc.sql("""
                        insert into nodes (id, name, host, cpu_cores, memory_bytes, gpus, labels, health, last_heartbeat)
                        values (:id, :name, :host, :cpu, :mem, :gpus, :labels, 'HEALTHY', :now)
                        on conflict (name) do update set host = excluded.host, cpu_cores = excluded.cpu_cores,
                            memory_bytes = excluded.memory_bytes, gpus = excluded.gpus, labels = excluded.labels,
                            health = case when nodes.health = 'DRAINING' then nodes.health else 'HEALTHY' end,
                            last_heartbeat = excluded.last_heartbeat
                        returning id""")
                .param("id", UUID.randomUUID()).param("name", r.nodeName()).param("host", r.host())
                .param("cpu", r.cpuCores()).param("mem", r.memoryBytes())
                .param("gpus", json.jsonb(r.gpus() == null ? List.of() : r.gpus()))
                .param("labels", json.jsonb(r.labels() == null ? java.util.Map.of() : r.labels()))
                .param("now", Timestamp.from(now))
                .query(UUID.class).single();
    }

    /** A new worker, and the older workers at its agent URL that it replaced (now LOST: their shards are gone). */
    public record Registered(Worker worker, List<Worker> replaced) {
    }

    /**
     * Records a worker without credentials, replacing whatever held its agent URL: for tests and tools that
     * need a worker row, never for the registration route.
     */
    @Transactional
    public Worker register(WorkerRegistration r, Instant now) {
        List<UUID> holders = liveAt(r.agentUrl()).stream().map(Worker::id).toList();
        return registerReplacing(r, now, null, null, holders).worker();
    }

    /** The workers not LOST at an agent URL (at most one once every registration goes through the route). */
    public List<Worker> liveAt(String agentUrl) {
        return jdbc.sql("select " + WORKER_COLUMNS + " from workers where agent_url = :url and state <> 'LOST' order by registered_at")
                .param("url", agentUrl).query(this::workerRow).list();
    }

    /** The worker whose credential has this SHA-256. */
    public Optional<UUID> workerByCredentialHash(byte[] hash) {
        return jdbc.sql("select id from workers where credential_hash = :h").param("h", hash).query(UUID.class).optional();
    }

    Optional<byte[]> credentialHash(UUID workerId) {
        return jdbc.sql("select credential_hash from workers where id = :id and credential_hash is not null")
                .param("id", workerId).query((rs, i) -> rs.getBytes(1)).optional();
    }

    /** The token this worker's agent accepts from the control plane. */
    public Optional<String> agentToken(UUID workerId) {
        return jdbc.sql("select agent_token from workers where id = :id and agent_token is not null")
                .param("id", workerId).query(String.class).optional();
    }

    /** Where a worker holds a rank of a READY deployment. */
    public record ReadyPlacement(UUID deploymentId, String deploymentName, int rank) {
    }

    /** The READY deployments this worker holds a rank of: what its heartbeats must agree with. */
    public List<ReadyPlacement> readyPlacements(UUID workerId) {
        return jdbc.sql("""
                        select d.id, d.name, p.rank from placements p join deployments d on d.id = p.deployment_id
                        where p.worker_id = :w and d.state = 'READY' order by d.created_at""")
                .param("w", workerId)
                .query((rs, i) -> new ReadyPlacement(rs.getObject(1, UUID.class), rs.getString(2), rs.getInt(3))).list();
    }

    /** Applies a heartbeat; false when the worker is unknown or was marked lost (it must register again). */
    @Transactional
    public boolean heartbeat(UUID workerId, Heartbeat h, Instant now) {
        int n = jdbc.sql("""
                        update workers set state = case when state = 'DRAINED' then state else :state end,
                            last_heartbeat = :now
                        where id = :id and state <> 'LOST'""")
                .param("state", h.state().name()).param("now", Timestamp.from(now)).param("id", workerId).update();
        if (n == 0) {
            return false;
        }
        jdbc.sql("""
                        update nodes set last_heartbeat = :now,
                            health = case when health = 'DRAINING' then health else 'HEALTHY' end
                        where id = (select node_id from workers where id = :id)""")
                .param("now", Timestamp.from(now)).param("id", workerId).update();
        return true;
    }

    /** Marks every worker silent since {@code cutoff} lost, and nodes with no live worker lost; returns the newly lost. */
    @Transactional
    public List<Worker> markLost(Instant cutoff) {
        List<Worker> lost = jdbc.sql("update workers set state = 'LOST' where state <> 'LOST' and last_heartbeat < :cutoff returning "
                        + WORKER_COLUMNS)
                .param("cutoff", Timestamp.from(cutoff)).query(this::workerRow).list();
        if (!lost.isEmpty()) {
            markNodesWithoutLiveWorkersLost();
        }
        return lost;
    }

    /**
     * Marks the given workers lost (those not lost already) and nodes left with no live worker lost; returns
     * the newly lost. By id rather than by pod name: a StatefulSet pod that comes back under the same name
     * must not take its new registration down with the old one.
     */
    @Transactional
    public List<Worker> markLostById(java.util.Collection<UUID> workerIds) {
        if (workerIds.isEmpty()) {
            return List.of();
        }
        List<Worker> lost = jdbc.sql("update workers set state = 'LOST' where state <> 'LOST' and id in (:ids) returning "
                        + WORKER_COLUMNS)
                .param("ids", List.copyOf(workerIds)).query(this::workerRow).list();
        if (!lost.isEmpty()) {
            markNodesWithoutLiveWorkersLost();
        }
        return lost;
    }

    private void markNodesWithoutLiveWorkersLost() {
        jdbc.sql("""
                update nodes set health = 'LOST' where health = 'HEALTHY'
                  and not exists (select 1 from workers w where w.node_id = nodes.id and w.state <> 'LOST')""").update();
    }

    /** Drains a node: its health becomes DRAINING and its workers DRAINED (no new placements). */
    @Transactional
    public Optional<Node> drainNode(UUID nodeId) {
        int n = jdbc.sql("update nodes set health = 'DRAINING' where id = :id").param("id", nodeId).update();
        if (n == 0) {
            return Optional.empty();
        }
        jdbc.sql("update workers set state = 'DRAINED' where node_id = :id and state <> 'LOST'").param("id", nodeId).update();
        return node(nodeId);
    }

    public Optional<Worker> drainWorker(UUID workerId) {
        jdbc.sql("update workers set state = 'DRAINED' where id = :id and state <> 'LOST'").param("id", workerId).update();
        return worker(workerId);
    }

    public List<Node> nodes() {
        return jdbc.sql("select " + NODE_COLUMNS + " from nodes order by name").query(this::nodeRow).list();
    }

    public Optional<Node> node(UUID id) {
        return jdbc.sql("select " + NODE_COLUMNS + " from nodes where id = :id").param("id", id).query(this::nodeRow).optional();
    }

    public List<Worker> workers() {
        return jdbc.sql("select " + WORKER_COLUMNS + " from workers order by registered_at").query(this::workerRow).list();
    }

    /**
     * Workers as operators list them: all but the retired ones, LOST since before {@code retiredBefore} and
     * placed in no live deployment (every restart of a local setup or rescheduled pod leaves one behind).
     * A DEGRADED deployment's lost worker stays listed however old.
     */
    public List<Worker> currentWorkers(Instant retiredBefore) {
        return currentWorkers(null, retiredBefore);
    }

    /** {@link #currentWorkers(Instant)} of one node, or of all when {@code nodeId} is null. */
    public List<Worker> currentWorkers(UUID nodeId, Instant retiredBefore) {
        return jdbc.sql("select " + WORKER_COLUMNS + " from workers w where " + NOT_RETIRED
                        + (nodeId == null ? "" : " and node_id = :n") + " order by registered_at")
                .params(nodeId == null ? Map.of("cutoff", Timestamp.from(retiredBefore))
                        : Map.of("cutoff", Timestamp.from(retiredBefore), "n", nodeId))
                .query(this::workerRow).list();
    }

    /** Current workers by state (see {@link #currentWorkers}), for the gauges. */
    public Map<String, Long> currentWorkersByState(Instant retiredBefore) {
        Map<String, Long> counts = new HashMap<>();
        jdbc.sql("select state, count(*) from workers w where " + NOT_RETIRED + " group by state")
                .param("cutoff", Timestamp.from(retiredBefore))
                .query((rs, i) -> counts.put(rs.getString(1), rs.getLong(2))).list();
        return counts;
    }

    public List<Worker> workersOn(UUID nodeId) {
        return jdbc.sql("select " + WORKER_COLUMNS + " from workers where node_id = :n order by registered_at")
                .param("n", nodeId).query(this::workerRow).list();
    }

    public Optional<Worker> worker(UUID id) {
        return jdbc.sql("select " + WORKER_COLUMNS + " from workers where id = :id").param("id", id).query(this::workerRow).optional();
    }

    private Node nodeRow(ResultSet rs, int row) throws SQLException {
        return new Node(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getLong(5),
                json.read(rs.getString(6), new TypeReference<List<GpuInventory>>() { }), json.readLabels(rs.getString(7)),
                NodeHealth.valueOf(rs.getString(8)), instant(rs.getTimestamp(9)), instant(rs.getTimestamp(10)));
    }

    private Worker workerRow(ResultSet rs, int row) throws SQLException {
        return new Worker(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getString(3), rs.getString(4),
                rs.getString(5), WorkerState.valueOf(rs.getString(6)), rs.getObject(7, UUID.class),
                instant(rs.getTimestamp(8)), instant(rs.getTimestamp(9)));
    }

    static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
