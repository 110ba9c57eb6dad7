package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import io.pipefill.e2e.support.Pipefill;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker process SIGKILLed in the middle of a prefill: the run fails within 30 s naming the rank and the worker,
 * the deployment turns DEGRADED, and once a replacement worker joins the deployment is made again and serves.
 */
class WorkerKilledTest {
    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void aWorkerKilledMidPrefillFailsTheRunAndAReplacementServesAgain() throws Exception {
        try (ControlPlane cp = ControlPlane.start("WorkerKilledTest", tmp.resolve("cp"), Map.of("PIPEFILL_PEER_TIMEOUT", "10s"))) {
            cp.startWorker("n1");
            Pipefill victim = cp.startWorker("n2");
            Api api = cp.api();
            cp.createModel("tiny", "--preset", "tiny", "--seed", "3");
            api.awaitWorkers("IDLE", 2, Duration.ofMinutes(2));
            Map<String, Object> request = Map.of("name", "tiny-pp2", "model", "tiny", "pp", 2, "chunkSize", 32, "maxTokens", 8192);
            cp.deploy(request);
            String victimId = api.workersOnNode("n2").get(0);

            // a long prefill: 8000 tokens in chunks of 32 through both stages
            String id = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 8000, "seed", 2,
                    "maxNewTokens", 4), 201).get("id");
            api.await("/api/v1/runs/" + id, m -> {
                Map<String, Object> p = (Map<String, Object>) m.get("progress");
                return p != null && (Integer) p.get("chunksDone") >= 2;
            }, Duration.ofMinutes(1), "prefill under way");
            assertThat(api.getOk("/api/v1/runs/" + id).get("state")).as("still prefilling when the worker is killed").isEqualTo("RUNNING");
            victim.kill();
            long killedAt = System.nanoTime();

            Map<String, Object> failed = api.awaitEnd(id, Duration.ofSeconds(40));
            double seconds = (System.nanoTime() - killedAt) / 1e9;
            assertThat(failed.get("state")).isEqualTo("FAILED");
            assertThat(seconds).as("failed within 30 s of the kill").isLessThan(30);
            String error = (String) failed.get("error");
            assertThat(error).as("the error names the killed rank's worker").contains(victimId);
            assertThat(error).containsPattern("rank 1|stage 1");
            api.await("/api/v1/workers/" + victimId, m -> "LOST".equals(m.get("state")), Duration.ofSeconds(30), "killed worker LOST");
            api.await("/api/v1/deployments/tiny-pp2", m -> "DEGRADED".equals(m.get("state")), Duration.ofSeconds(30),
                    "deployment DEGRADED");
            assertThat(api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 10)).status())
                    .as("a DEGRADED deployment takes no run").isEqualTo(409);

            // a replacement joins; the deployment is made again on the live workers and serves
            cp.startWorker("n2");
            api.awaitWorkers("IDLE", 1, Duration.ofMinutes(1));
            assertThat(api.delete("/api/v1/deployments/tiny-pp2").status()).isIn(200, 204);
            cp.deploy(request);
            String next = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 500, "maxNewTokens", 3), 201).get("id");
            Map<String, Object> ok = api.awaitEnd(next, Duration.ofMinutes(1));
            assertThat(ok.get("state")).as("%s", ok.get("error")).isEqualTo("SUCCEEDED");
            assertThat((List<Integer>) ok.get("generated")).hasSize(3);

            try (Connection db = cp.database();
                 PreparedStatement q = db.prepareStatement("select state, error from runs where id = ?::uuid")) {
                q.setString(1, id);
                try (ResultSet rs = q.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("FAILED");
                    assertThat(rs.getString(2)).isEqualTo(error);
                }
                try (PreparedStatement w = db.prepareStatement("select state from workers where id = ?::uuid")) {
                    w.setString(1, victimId);
                    try (ResultSet rs = w.executeQuery()) {
                        assertThat(rs.next()).isTrue();
                        assertThat(rs.getString(1)).isEqualTo("LOST");
                    }
                }
            }
        }
    }
}
