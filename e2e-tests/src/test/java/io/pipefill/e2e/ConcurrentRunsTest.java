package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import io.pipefill.e2e.support.Reference;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A PP 2 × TP 2 deployment on four worker processes (two per node, so that each TP pair shares a node) under 20 runs
 * submitted at once by four clients, with the bulkhead set to 8 runs in flight: every submission is either accepted
 * (201) or refused with a 429 problem, every accepted run succeeds with the tokens of the single-process engine, and
 * the database holds exactly the accepted runs, once each.
 */
class ConcurrentRunsTest {
    static final int CLIENTS = 4;
    static final int RUNS = 20;
    static final int DEPTH = 8;
    static final int NEW_TOKENS = 6;

    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void twentyConcurrentRunsAllEndCorrectlyAndTheBulkheadRefusesBeyondItsDepth() throws Exception {
        try (ControlPlane cp = ControlPlane.start("ConcurrentRunsTest", tmp.resolve("cp"), Map.of("PIPEFILL_MAX_RUNS_IN_FLIGHT", String.valueOf(DEPTH)))) {
            for (String node : List.of("n1", "n1", "n2", "n2")) {
                cp.startWorker(node);
            }
            Api api = cp.api();
            String model = cp.createModel("tiny", "--preset", "tiny", "--seed", "7");
            api.awaitWorkers("IDLE", 4, Duration.ofMinutes(2));
            Map<String, Object> d = cp.deploy(Map.of("name", "tiny-pp2tp2", "model", model, "pp", 2, "tp", 2,
                    "chunkSize", 128, "maxTokens", 4096));
            List<Map<String, Object>> placements = (List<Map<String, Object>>) d.get("placements");
            assertThat(placements).hasSize(4);

            // four prompts, each sent five times: 20 runs, long enough (1500 tokens) that the queue fills
            int vocab = (Integer) api.getOk("/api/v1/models/" + model).get("vocabSize");
            List<int[]> prompts = new ArrayList<>();
            for (int p = 0; p < CLIENTS; p++) {
                prompts.add(new SplittableRandom(100 + p).ints(1500, 0, vocab).toArray());
            }
            Map<String, Integer> promptOfRun = new ConcurrentHashMap<>();
            List<Api.Response> refused = new CopyOnWriteArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                done.add(clients.submit(() -> {
                    go.await();
                    for (int i = 0; i < RUNS / CLIENTS; i++) {
                        int p = (client + i) % prompts.size();
                        Api.Response r = api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2tp2",
                                "tokenIds", Arrays.stream(prompts.get(p)).boxed().toList(), "maxNewTokens", NEW_TOKENS));
                        if (r.status() == 201) {
                            promptOfRun.put((String) r.json().get("id"), p);
                        } else {
                            refused.add(r);
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                f.get();
            }
            clients.shutdown();

            assertThat(promptOfRun.size() + refused.size()).isEqualTo(RUNS);
            assertThat(refused).as("the bulkhead of %d refuses some of %d simultaneous runs", DEPTH, RUNS).isNotEmpty();
            assertThat(promptOfRun.size()).as("it accepts at least its depth").isGreaterThanOrEqualTo(DEPTH);
            for (Api.Response r : refused) {
                assertThat(r.status()).as(r.body()).isEqualTo(429);
                assertThat(r.contentType()).startsWith("application/problem+json");
                assertThat(r.json().get("detail")).asString().contains("retry later");
            }

            List<Reference> refs = new ArrayList<>();
            for (int p = 0; p < prompts.size(); p++) {
                refs.add(Reference.of(cp.dataDir().resolve("models/tiny"), prompts.get(p), NEW_TOKENS, tmp.resolve("ref")));
            }
            for (Map.Entry<String, Integer> e : promptOfRun.entrySet()) {
                Map<String, Object> run = api.awaitEnd(e.getKey(), Duration.ofMinutes(3));
                assertThat(run.get("state")).as("run %s: %s", e.getKey(), run.get("error")).isEqualTo("SUCCEEDED");
                assertThat((List<Integer>) run.get("generated")).as("run %s", e.getKey())
                        .containsExactlyElementsOf(refs.get(e.getValue()).generated());
            }
            // one run's logits against the single-process engine's, at the engine's tolerance
            String one = promptOfRun.keySet().iterator().next();
            List<Number> logits = api.get("/api/v1/runs/" + one + "/logits").numbers();
            assertThat(refs.get(promptOfRun.get(one)).relativeError(logits)).isLessThanOrEqualTo(1e-4);

            // the records: exactly the accepted runs, once each, all SUCCEEDED with their tokens; nothing of the refused
            Map<String, String> states = new HashMap<>();
            try (Connection db = cp.database(); Statement s = db.createStatement();
                 ResultSet rs = s.executeQuery("select r.id, r.state, jsonb_array_length(r.generated) from runs r "
                         + "join deployments d on d.id = r.deployment_id where d.name = 'tiny-pp2tp2'")) {
                while (rs.next()) {
                    assertThat(states.put(rs.getString(1), rs.getString(2))).as("run %s recorded once", rs.getString(1)).isNull();
                    assertThat(rs.getInt(3)).isEqualTo(NEW_TOKENS);
                }
            }
            assertThat(states.keySet()).containsExactlyInAnyOrderElementsOf(promptOfRun.keySet());
            assertThat(states.values()).containsOnly("SUCCEEDED");
            assertThat(api.getOk("/api/v1/deployments/tiny-pp2tp2").get("state")).isEqualTo("READY");
        }
    }
}
