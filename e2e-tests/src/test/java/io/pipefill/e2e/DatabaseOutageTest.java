package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane on an external PostgreSQL server (a real one, started by this test from the binaries that come
 * in a Maven jar, reached only through {@code PIPEFILL_DB_URL}), which is stopped for 20 s and started again: API
 * calls in between fail cleanly (503 problem+json with Retry-After, within a few seconds), nothing is half-written,
 * the workers are not declared lost for the database's silence, the control plane holds its database lock again, and
 * service resumes by itself.
 */
class DatabaseOutageTest {
    static final Duration OUTAGE = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    private static EmbeddedPostgres startDatabase(Path dir, int port) throws Exception {
        return EmbeddedPostgres.builder().setDataDirectory(dir).setCleanDataDirectory(false).setPort(port).start();
    }

    @Test
    @SuppressWarnings("unchecked")
    void theDatabaseStoppedForTwentySecondsFailsCallsCleanlyAndServiceResumesByItself() throws Exception {
        Path pgDir = Files.createDirectories(tmp.resolve("postgres"));
        int pgPort = ControlPlane.freePort();
        EmbeddedPostgres pg = startDatabase(pgDir, pgPort);
        try (ControlPlane cp = ControlPlane.start("DatabaseOutageTest", tmp.resolve("cp"), Map.of(
                "PIPEFILL_DB_URL", "jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres",
                "PIPEFILL_DB_USER", "postgres", "PIPEFILL_DB_PASSWORD", ""))) {
            cp.startWorker("n1");
            cp.startWorker("n2");
            Api api = cp.api();
            cp.createModel("tiny", "--preset", "tiny", "--seed", "9");
            api.awaitWorkers("IDLE", 2, Duration.ofMinutes(2));
            cp.deploy(Map.of("name", "tiny-pp2", "model", "tiny", "pp", 2, "chunkSize", 64, "maxTokens", 4096));
            String before = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 300, "maxNewTokens", 3), 201).get("id");
            Map<String, Object> first = api.awaitEnd(before, Duration.ofMinutes(1));
            assertThat(first.get("state")).isEqualTo("SUCCEEDED");

            pg.close();
            long stoppedAt = System.nanoTime();
            List<Api.Response> during = new ArrayList<>();
            while (System.nanoTime() - stoppedAt < OUTAGE.toNanos()) {
                long t0 = System.nanoTime();
                Api.Response list = api.get("/api/v1/runs");
                assertThat((System.nanoTime() - t0) / 1e9).as("an answer within 10 s while the database is away").isLessThan(10);
                during.add(list);
                during.add(api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 100)));
                during.add(api.post("/api/v1/models", Map.of("name", "during-outage", "location", "tiny")));
                Thread.sleep(2000);
            }
            assertThat(during).isNotEmpty().allSatisfy(r -> {
                assertThat(r.status()).as(r.body()).isEqualTo(503);
                assertThat(r.contentType()).startsWith("application/problem+json");
                assertThat(r.json().get("detail")).asString().contains("database is unreachable");
            });

            pg = startDatabase(pgDir, pgPort);
            // service resumes by itself: the pool reconnects, the workers' heartbeats land again
            api.await("/api/v1/deployments/tiny-pp2", m -> "READY".equals(m.get("state")), Duration.ofSeconds(30),
                    "the API answering again");
            Thread.sleep(12_000); // past a heartbeat timeout (10 s) with the database back: no worker judged lost
            assertThat(api.listOk("/api/v1/workers")).extracting(w -> w.get("state")).containsOnly("READY");
            assertThat(api.getOk("/api/v1/deployments/tiny-pp2").get("state")).isEqualTo("READY");
            String after = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 300, "maxNewTokens", 3), 201).get("id");
            Map<String, Object> second = api.awaitEnd(after, Duration.ofMinutes(1));
            assertThat(second.get("state")).as("%s", second.get("error")).isEqualTo("SUCCEEDED");
            assertThat(second.get("generated")).isEqualTo(first.get("generated"));

            // nothing half-written: exactly the two runs, both ended; no trace of the calls refused during the outage
            Map<String, String> runs = new HashMap<>();
            try (Connection db = cp.database(); Statement s = db.createStatement()) {
                try (ResultSet rs = s.executeQuery("select id, state from runs")) {
                    while (rs.next()) {
                        runs.put(rs.getString(1), rs.getString(2));
                    }
                }
                try (ResultSet rs = s.executeQuery("select count(*) from models where name = 'during-outage'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isZero();
                }
                // one control plane per database: the advisory lock, dropped with the server, is held again
                try (ResultSet rs = s.executeQuery("select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                        + "where l.locktype = 'advisory' and l.granted and a.application_name = 'pipefill control plane (lock)'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("the control plane's lock taken again after the restart").isEqualTo(1);
                }
            }
            assertThat(runs).isEqualTo(Map.of(before, "SUCCEEDED", after, "SUCCEEDED"));
        } finally {
            pg.close();
        }
    }
}
