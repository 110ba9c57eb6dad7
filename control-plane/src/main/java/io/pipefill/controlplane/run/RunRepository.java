package io.pipefill.controlplane.run;

import io.pipefill.controlplane.common.Json;
import io.pipefill.model.pipeline.StageEvent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.core.type.TypeReference;

/** Runs and their events in PostgreSQL. Every state change writes the run and a STATE event in one transaction. */
@Repository
public class RunRepository {
    private static final String COLUMNS = "id, deployment_id, prompt_kind, prompt_tokens, max_new_tokens, chunk_schedule::text, "
            + "state, ttft_ms, total_ms, tokens_per_s, bubble_ratio, timeline::text, first_token, generated::text, error, "
            + "submitted_at, started_at, finished_at, "
            // the latest chunk through the last stage (run_events_run orders a run's events by id)
            + "(select e.detail::text from run_events e where e.run_id = runs.id and e.kind = 'PROGRESS' order by e.id desc limit 1)";

    private final JdbcClient jdbc;
    private final Json json;

    public RunRepository(JdbcClient jdbc, Json json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    @Transactional
    public Run insert(UUID id, UUID deploymentId, PromptKind kind, int promptTokens, int maxNewTokens) {
        jdbc.sql("""
                        insert into runs (id, deployment_id, prompt_kind, prompt_tokens, max_new_tokens, state)
                        values (:id, :d, :k, :n, :m, 'QUEUED')""")
                .param("id", id).param("d", deploymentId).param("k", kind.name()).param("n", promptTokens)
                .param("m", maxNewTokens).update();
        event(id, "STATE", Map.of("state", "QUEUED"));
        return byId(id).orElseThrow();
    }

    /** QUEUED to RUNNING; false (nothing written) when the run was no longer QUEUED, i.e. cancelled meanwhile. */
    @Transactional
    public boolean started(UUID id) {
        int n = jdbc.sql("update runs set state = 'RUNNING', started_at = :now where id = :id and state = 'QUEUED'")
                .param("now", Timestamp.from(Instant.now())).param("id", id).update();
        if (n == 1) {
            event(id, "STATE", Map.of("state", "RUNNING"));
        }
        return n == 1;
    }

    @Transactional
    public void succeeded(UUID id, RunOutcome o) {
        int n = jdbc.sql("""
                        update runs set state = 'SUCCEEDED', chunk_schedule = :sched, ttft_ms = :ttft, total_ms = :total,
                            tokens_per_s = :tps, bubble_ratio = :bubble, timeline = :timeline, first_token = :first,
                            generated = :gen, last_logits = :logits, finished_at = :now
                        where id = :id and state = 'RUNNING'""")
                .param("sched", json.jsonb(o.chunkSchedule())).param("ttft", o.ttftMs()).param("total", o.totalMs())
                .param("tps", o.tokensPerSecond()).param("bubble", o.bubbleRatio()).param("timeline", json.jsonb(o.timeline()))
                .param("first", o.firstToken()).param("gen", json.jsonb(o.generated())).param("logits", bytes(o.lastLogits()))
                .param("now", Timestamp.from(Instant.now())).param("id", id).update();
        if (n == 1) {
            event(id, "STATE", Map.of("state", "SUCCEEDED", "ttftMs", o.ttftMs()));
        }
    }

    /** Fails a run that has not finished yet; returns false when it already had. */
    @Transactional
    public boolean failed(UUID id, String error) {
        return end(id, RunState.FAILED, error, RunState.QUEUED, RunState.RUNNING);
    }

    /** Cancels a RUNNING run; false when it was not RUNNING. */
    @Transactional
    public boolean cancelledWhileRunning(UUID id, String reason) {
        return end(id, RunState.CANCELLED, reason, RunState.RUNNING);
    }

    /** Cancels a run nobody has started; false when it was no longer QUEUED (started, or already ended). */
    @Transactional
    public boolean cancelledWhileQueued(UUID id, String reason) {
        return end(id, RunState.CANCELLED, reason, RunState.QUEUED);
    }

    /** Moves the run to the final state {@code to} if it is in one of {@code from}; records the STATE event. */
    private boolean end(UUID id, RunState to, String error, RunState... from) {
        int n = jdbc.sql("update runs set state = :to, error = :e, finished_at = :now where id = :id and state in (:from)")
                .param("to", to.name()).param("e", error).param("now", Timestamp.from(Instant.now())).param("id", id)
                .param("from", Arrays.stream(from).map(RunState::name).toList())
                .update();
        if (n == 1) {
            event(id, "STATE", Map.of("state", to.name(), "error", error));
        }
        return n == 1;
    }

    /** An event to record: its kind (STATE, STAGE, PROGRESS, ERROR) and detail. */
    public record NewEvent(String kind, Map<String, ?> detail) {
    }

    /** Records events in one transaction, in list order. */
    @Transactional
    public void events(UUID runId, List<NewEvent> events) {
        events.forEach(e -> event(runId, e.kind(), e.detail()));
    }

    public RunEvent event(UUID runId, String kind, Map<String, ?> detail) {
        return jdbc.sql("insert into run_events (run_id, kind, detail) values (:r, :k, :d) returning id, run_id, at, kind, detail::text")
                .param("r", runId).param("k", kind).param("d", json.jsonb(detail)).query(this::eventRow).single();
    }

    public List<RunEvent> events(UUID runId, long afterId) {
        return jdbc.sql("select id, run_id, at, kind, detail::text from run_events where run_id = :r and id > :after order by id")
                .param("r", runId).param("after", afterId).query(this::eventRow).list();
    }

    public Optional<Run> byId(UUID id) {
        return jdbc.sql("select " + COLUMNS + " from runs where id = :id").param("id", id).query(this::row).optional();
    }

    public Optional<float[]> lastLogits(UUID id) {
        return jdbc.sql("select last_logits from runs where id = :id and last_logits is not null").param("id", id)
                .query((rs, i) -> floats(rs.getBytes(1))).optional();
    }

    /** Runs, newest first, filtered by deployment and state when given. */
    public List<Run> list(UUID deploymentId, RunState state, int limit) {
        StringBuilder sql = new StringBuilder("select " + COLUMNS + " from runs where true");
        if (deploymentId != null) {
            sql.append(" and deployment_id = :d");
        }
        if (state != null) {
            sql.append(" and state = :s");
        }
        sql.append(" order by submitted_at desc limit :limit");
        JdbcClient.StatementSpec q = jdbc.sql(sql.toString()).param("limit", limit);
        if (deploymentId != null) {
            q = q.param("d", deploymentId);
        }
        if (state != null) {
            q = q.param("s", state.name());
        }
        return q.query(this::row).list();
    }

    /** Runs not finished, oldest first: what a restarted control plane must fail (their workers' state is gone). */
    public List<Run> unfinished() {
        return jdbc.sql("select " + COLUMNS + " from runs where state in ('QUEUED', 'RUNNING') order by submitted_at")
                .query(this::row).list();
    }

    private Run row(ResultSet rs, int i) throws SQLException {
        return new Run(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), PromptKind.valueOf(rs.getString(3)),
                rs.getInt(4), rs.getInt(5), json.readInts(rs.getString(6)), RunState.valueOf(rs.getString(7)),
                (Double) rs.getObject(8), (Double) rs.getObject(9), (Double) rs.getObject(10), (Double) rs.getObject(11),
                json.read(rs.getString(12), new TypeReference<List<StageEvent>>() { }), (Integer) rs.getObject(13),
                json.readInts(rs.getString(14)), rs.getString(15), progress(rs.getString(19)), instant(rs.getTimestamp(16)),
                instant(rs.getTimestamp(17)), instant(rs.getTimestamp(18)));
    }

    /**
     * A PROGRESS event's detail (the last stage's report: chunk index, chunks, tokens done, prompt tokens); null
     * when there is none or it lacks a field (the worker's report is what it is: a poll must not fail on it).
     */
    private RunProgress progress(String detail) {
        Map<String, Object> d = json.read(detail, new TypeReference<Map<String, Object>>() { });
        if (d == null || !(d.get("chunk") instanceof Number chunk) || !(d.get("chunks") instanceof Number chunks)
                || !(d.get("done") instanceof Number done) || !(d.get("total") instanceof Number total)) {
            return null;
        }
        return new RunProgress(chunk.intValue() + 1, chunks.intValue(), done.intValue(), total.intValue());
    }

    private RunEvent eventRow(ResultSet rs, int i) throws SQLException {
        return new RunEvent(rs.getLong(1), rs.getObject(2, UUID.class), rs.getTimestamp(3).toInstant(), rs.getString(4),
                json.read(rs.getString(5), new TypeReference<Map<String, Object>>() { }));
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }

    static byte[] bytes(float[] v) {
        if (v == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    static float[] floats(byte[] b) {
        float[] v = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }
}
