package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import io.pipefill.e2e.support.Pipefill;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane SIGKILLed in the middle of a run and started again on the same data directory: the interrupted
 * run is FAILED with a reason and aborted on the workers, the workers (their own processes) carry on with the new
 * process under their registrations, the deployment serves again without being made anew, and every record written
 * before the kill is still there.
 */
class ControlPlaneKilledTest {
    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void aKilledControlPlaneRestartsOnItsDataAndServesAgain() throws Exception {
        try (ControlPlane cp = ControlPlane.start("ControlPlaneKilledTest", tmp.resolve("cp"), Map.of())) {
            Pipefill w1 = cp.startWorker("n1");
            Pipefill w2 = cp.startWorker("n2");
            Api api = cp.api();
            cp.createModel("tiny", "--preset", "tiny", "--seed", "5");
            api.awaitWorkers("IDLE", 2, Duration.ofMinutes(2));
            cp.deploy(Map.of("name", "tiny-pp2", "model", "tiny", "pp", 2, "chunkSize", 32, "maxTokens", 8192));
            String done = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 300, "maxNewTokens", 3), 201).get("id");
            assertThat(api.awaitEnd(done, Duration.ofMinutes(1)).get("state")).isEqualTo("SUCCEEDED");

            String interrupted = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 8000,
                    "maxNewTokens", 4), 201).get("id");
            api.await("/api/v1/runs/" + interrupted, m -> "RUNNING".equals(m.get("state")), Duration.ofMinutes(1), "run RUNNING");
            Map<String, String> before = records(cp);
            List<String> workersBefore = workerIds(api);
            cp.process().kill();

            // the workers live on; the records survive in the database the killed control plane left running
            assertThat(w1.process().isAlive() && w2.process().isAlive()).as("the workers outlive their control plane").isTrue();
            assertThat(records(cp)).containsEntry(interrupted, "RUNNING");

            cp.startUp();
            Map<String, Object> failed = api.awaitEnd(interrupted, Duration.ofSeconds(30));
            assertThat(failed.get("state")).isEqualTo("FAILED");
            assertThat(failed.get("error")).asString().contains("the control plane restarted while the run was RUNNING");
            // the same workers (same processes, same registrations) heartbeat the new process with their credentials, are
            // not taken for lost for the time it was down, and let go of the orphaned run: the deployment serves as it was
            api.await("/api/v1/deployments/tiny-pp2", m -> "READY".equals(m.get("state")), Duration.ofSeconds(30), "deployment READY");
            Thread.sleep(12_000); // past the heartbeat timeout (10 s) since the restart
            assertThat(api.getOk("/api/v1/deployments/tiny-pp2").get("state")).isEqualTo("READY");
            assertThat(workerIds(api)).isEqualTo(workersBefore);
            assertThat(api.listOk("/api/v1/workers")).extracting(w -> w.get("state")).doesNotContain("LOST");
            String after = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 300, "maxNewTokens", 3), 201).get("id");
            Map<String, Object> ok = api.awaitEnd(after, Duration.ofMinutes(1));
            assertThat(ok.get("state")).as("%s", ok.get("error")).isEqualTo("SUCCEEDED");
            assertThat(ok.get("generated")).isEqualTo(api.getOk("/api/v1/runs/" + done).get("generated"));

            Map<String, String> now = records(cp);
            Map<String, String> expected = new HashMap<>(before);
            expected.put(interrupted, "FAILED");
            expected.put(after, "SUCCEEDED");
            assertThat(now).as("every record kept, the interrupted one FAILED").isEqualTo(expected);
            assertThat(w1.process().isAlive() && w2.process().isAlive()).isTrue();
        }
    }

    private static List<String> workerIds(Api api) throws Exception {
        return api.listOk("/api/v1/workers").stream().map(w -> (String) w.get("id")).sorted().toList();
    }

    private static Map<String, String> records(ControlPlane cp) throws Exception {
        Map<String, String> states = new HashMap<>();
        try (Connection db = cp.database(); Statement s = db.createStatement();
             ResultSet rs = s.executeQuery("select id, state from runs")) {
            while (rs.next()) {
                states.put(rs.getString(1), rs.getString(2));
            }
        }
        return states;
    }
}
