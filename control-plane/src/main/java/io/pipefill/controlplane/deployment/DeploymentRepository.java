package io.pipefill.controlplane.deployment;

import io.pipefill.controlplane.common.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import tools.jackson.core.type.TypeReference;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;

/** Deployments and their placements in PostgreSQL. Blocking: call through {@code Blocking}. */
@Repository
public class DeploymentRepository {
    private static final String COLUMNS = "id, name, model_id, pp, tp, layers_per_stage::text, chunk_size, dynamic_chunking, "
            + "sigma, max_tokens, threads_per_rank, state, state_reason, created_at, updated_at, chunking, calibration::text";

    private static final TypeReference<ChunkCostCalibration> CALIBRATION = new TypeReference<>() { };

    private final JdbcClient jdbc;
    private final Json json;

    public DeploymentRepository(JdbcClient jdbc, Json json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /** Inserts the deployment with its placements and points each placed worker at it, in one transaction. */
    @Transactional
    public Deployment insert(Deployment d) {
        jdbc.sql("""
                        insert into deployments (id, name, model_id, pp, tp, layers_per_stage, chunk_size, dynamic_chunking,
                            sigma, max_tokens, threads_per_rank, state, state_reason, chunking, calibration)
                        values (:id, :name, :model, :pp, :tp, :layers, :chunk, :dyn, :sigma, :max, :threads, :state, :reason,
                            :chunking, :calibration)""")
                .param("id", d.id()).param("name", d.name()).param("model", d.modelId()).param("pp", d.pp())
                .param("tp", d.tp()).param("layers", json.jsonb(d.layersPerStage())).param("chunk", d.chunkSize())
                .param("dyn", d.dynamicChunking()).param("sigma", d.sigma()).param("max", d.maxTokens())
                .param("threads", d.threadsPerRank()).param("state", d.state().name()).param("reason", d.stateReason())
                .param("chunking", d.chunking()).param("calibration", json.jsonb(d.calibration()))
                .update();
        for (Placement p : d.placements()) {
            jdbc.sql("insert into placements (deployment_id, rank, stage, tp_rank, worker_id) values (:d, :r, :s, :t, :w)")
                    .param("d", d.id()).param("r", p.rank()).param("s", p.stage()).param("t", p.tpRank())
                    .param("w", p.workerId()).update();
            jdbc.sql("update workers set deployment_id = :d where id = :w").param("d", d.id()).param("w", p.workerId()).update();
        }
        return byId(d.id()).orElseThrow();
    }

    /** Moves a deployment to a state; returns false when it was already DELETED (deletion is final). */
    public boolean setState(UUID id, DeploymentState state, String reason) {
        return jdbc.sql("""
                        update deployments set state = :s, state_reason = :r, updated_at = :now
                        where id = :id and state <> 'DELETED'""")
                .param("s", state.name()).param("r", reason).param("now", Timestamp.from(Instant.now())).param("id", id)
                .update() == 1;
    }

    /** Moves a deployment from {@code from} to {@code to}; false when it was in another state by then. */
    public boolean moveState(UUID id, DeploymentState from, DeploymentState to, String reason) {
        return jdbc.sql("update deployments set state = :s, state_reason = :r, updated_at = :now where id = :id and state = :from")
                .param("s", to.name()).param("r", reason).param("now", Timestamp.from(Instant.now())).param("id", id)
                .param("from", from.name()).update() == 1;
    }

    /** Records the chunk costs a planned deployment measured (unless it was deleted meanwhile). */
    public boolean calibrated(UUID id, ChunkCostCalibration calibration) {
        return jdbc.sql("update deployments set calibration = :c, updated_at = :now where id = :id and state <> 'DELETED'")
                .param("c", json.jsonb(calibration)).param("now", Timestamp.from(Instant.now())).param("id", id)
                .update() == 1;
    }

    /** Runs queued or running on the deployment. */
    public long unfinishedRuns(UUID id) {
        return jdbc.sql("select count(*) from runs where deployment_id = :d and state in ('QUEUED', 'RUNNING')")
                .param("d", id).query(Long.class).single();
    }

    /** Marks the deployment deleted and releases its workers. */
    @Transactional
    public void delete(UUID id) {
        setState(id, DeploymentState.DELETED, "deleted");
        jdbc.sql("update workers set deployment_id = null where deployment_id = :d").param("d", id).update();
    }

    public Optional<Deployment> byId(UUID id) {
        return jdbc.sql("select " + COLUMNS + " from deployments where id = :id").param("id", id).query(this::row)
                .optional().map(d -> d.withPlacements(placements(id)));
    }

    /** By id when {@code ref} is a UUID, else by name. */
    public Optional<Deployment> byIdOrName(String ref) {
        UUID id;
        try {
            id = UUID.fromString(ref);
        } catch (IllegalArgumentException notAUuid) {
            return byName(ref);
        }
        return byId(id);
    }

    public Optional<Deployment> byName(String name) {
        // the live deployment of that name if there is one, else the latest deleted one
        return jdbc.sql("select " + COLUMNS + " from deployments where name = :n order by state = 'DELETED', created_at desc limit 1")
                .param("n", name).query(this::row).optional().map(d -> d.withPlacements(placements(d.id())));
    }

    /** Every deployment except deleted ones, unless asked. */
    public List<Deployment> all(boolean includeDeleted) {
        return jdbc.sql("select " + COLUMNS + " from deployments" + (includeDeleted ? "" : " where state <> 'DELETED'")
                        + " order by created_at")
                .query(this::row).list().stream().map(d -> d.withPlacements(placements(d.id()))).toList();
    }

    /** Live (not deleted) deployments that place a rank on the given worker. */
    public List<Deployment> usingWorker(UUID workerId) {
        return jdbc.sql("select " + COLUMNS + " from deployments where state <> 'DELETED'"
                        + " and id in (select deployment_id from placements where worker_id = :w)")
                .param("w", workerId).query(this::row).list().stream().map(d -> d.withPlacements(placements(d.id()))).toList();
    }

    private List<Placement> placements(UUID id) {
        return jdbc.sql("select rank, stage, tp_rank, worker_id from placements where deployment_id = :d order by rank")
                .param("d", id)
                .query((rs, i) -> new Placement(rs.getInt(1), rs.getInt(2), rs.getInt(3), rs.getObject(4, UUID.class)))
                .list();
    }

    private Deployment row(ResultSet rs, int i) throws SQLException {
        return new Deployment(rs.getObject(1, UUID.class), rs.getString(2), rs.getObject(3, UUID.class), rs.getInt(4),
                rs.getInt(5), json.readInts(rs.getString(6)), rs.getInt(7), rs.getBoolean(8), rs.getDouble(9),
                rs.getString(16), json.read(rs.getString(17), CALIBRATION), rs.getInt(10), rs.getInt(11),
                DeploymentState.valueOf(rs.getString(12)), rs.getString(13), List.of(), rs.getTimestamp(14).toInstant(),
                rs.getTimestamp(15).toInstant());
    }
}
