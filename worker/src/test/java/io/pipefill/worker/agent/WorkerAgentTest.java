package io.pipefill.worker.agent;

import java.net.InetSocketAddress;
import io.pipefill.worker.comm.SocketTransport;
import io.pipefill.worker.comm.RunSecret;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.RunStart;
import io.pipefill.model.agent.ShardAssignment;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.launch.PrefillResult;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two worker agents in this JVM, driven over real HTTP by a fake control plane, run a PP=2 pipeline on the
 * committed tiny model: the answer equals the single-process engine's (max |Δ| / max |logit| ≤ 1e-4, the
 * same greedy tokens), again on a second run over the same loaded shards; plus the API's refusals and the
 * failure paths (abort, a peer that goes away).
 */
@Timeout(60)
class WorkerAgentTest {
    static final double TOLERANCE = 1e-4;
    static final String TOKEN = "test-join-token";
    static final Path MODEL = TestModels.committed("tiny-llama"); // 4 layers, vocabulary 512
    static final int[] PROMPT = new SplittableRandom(11).ints(40, 0, 512).toArray();
    static final int NEW_TOKENS = 3;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static FakeControlPlane cp;
    static WorkerAgent a0;
    static WorkerAgent a1;
    static PrefillResult reference;

    @BeforeAll
    static void start() throws Exception {
        cp = new FakeControlPlane(TOKEN);
        a0 = WorkerAgent.start(options(Map.of("zone", "a")));
        a1 = WorkerAgent.start(options(Map.of()));
        assertTrue(a0.awaitRegistered(Duration.ofSeconds(10)));
        assertTrue(a1.awaitRegistered(Duration.ofSeconds(10)));
        reference = TestModels.prefill(MODEL, PROMPT, PROMPT.length, NEW_TOKENS, 1);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {a0, a1, cp}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    static AgentOptions options(Map<String, String> labels) {
        return new AgentOptions(cp.url(), TOKEN, "127.0.0.1", 0, "test-node", 1, labels, "cpu");
    }

    static ShardAssignment shard(int rank) {
        return new ShardAssignment("dep-1", MODEL.toString(), 2, 1, List.of(2, 2), rank, 1, 64);
    }

    record Answer(int status, JsonNode body) {
    }

    static Answer call(WorkerAgent agent, String method, String path, Object body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(agent.agentUrl() + path)).timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        byte[] bytes = body == null ? new byte[0]
                : body instanceof String s ? s.getBytes() : FakeControlPlane.JSON.writeValueAsBytes(body);
        b.method(method, bytes.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(bytes));
        HttpResponse<byte[]> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        JsonNode json = r.body().length == 0 ? FakeControlPlane.JSON.nullNode() : FakeControlPlane.JSON.readTree(r.body());
        return new Answer(r.statusCode(), json);
    }

    /** A call as the control plane makes it: with the agent token this worker handed over at registration. */
    static Answer call(WorkerAgent agent, String method, String path, Object body) throws Exception {
        return call(agent, method, path, body, cp.agentToken(agent.workerId()));
    }

    static void awaitState(WorkerAgent agent, String state) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        String last = null;
        while (System.currentTimeMillis() < deadline) {
            JsonNode s = call(agent, "GET", "/agent/status", null).body();
            last = s.toString();
            if (s.path("state").asText().equals(state)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("agent never reached " + state + "; last status " + last);
    }

    static void loadBoth() throws Exception {
        assertEquals(202, call(a0, "PUT", "/agent/shard", shard(0)).status());
        assertEquals(202, call(a1, "PUT", "/agent/shard", shard(1)).status());
        awaitState(a0, "READY");
        awaitState(a1, "READY");
    }

    static DataEndpoint open(WorkerAgent agent, String runId) throws Exception {
        Answer a = call(agent, "POST", "/agent/runs/" + runId + "/open", null);
        assertEquals(200, a.status(), a.body().toString());
        return FakeControlPlane.JSON.treeToValue(a.body(), DataEndpoint.class);
    }

    /** One secret per run id, as the control plane makes: every rank of a run gets the same. */
    private static final java.util.Map<String, String> SECRETS = new java.util.concurrent.ConcurrentHashMap<>();

    static RunStart runStart(String runId, boolean dynamic, List<DataEndpoint> peers, long peerTimeoutMs) {
        return new RunStart(runId, PROMPT, NEW_TOKENS, 16, dynamic, 0.75, peers, peerTimeoutMs,
                SECRETS.computeIfAbsent(runId, k -> RunStart.newDataSecret()));
    }

    /** An uneven explicit schedule over the 40-token prompt, as a planned deployment sends it. */
    static final List<Integer> EXPLICIT = List.of(24, 8, 5, 3);

    static RunStart explicitStart(String runId, List<DataEndpoint> peers, List<Integer> schedule) {
        return new RunStart(runId, PROMPT, NEW_TOKENS, 24, false, 0, peers, 10_000,
                SECRETS.computeIfAbsent(runId, k -> RunStart.newDataSecret()), null, schedule);
    }

    @Test
    void registersWithItsNodeAndSendsHeartbeats() throws Exception {
        JsonNode reg = cp.await(cp.registrations, r -> r.path("agentUrl").asText().equals(a0.agentUrl().toString()),
                1000, "registration of agent 0");
        assertEquals("test-node", reg.path("nodeName").asText());
        assertEquals("a", reg.path("labels").path("zone").asText());
        assertEquals("cpu", reg.path("backend").asText());
        assertTrue(reg.path("cpuCores").asInt() >= 1);
        assertTrue(reg.path("memoryBytes").asLong() > 0);
        assertTrue(reg.path("gpus").isArray());
        String id = a1.workerId();
        cp.await(cp.heartbeats, h -> h.path("workerId").asText().equals(id) && h.has("state"), 3000, "heartbeat of " + id);
        assertEquals(0, cp.unauthorized.get(), "every call to the control plane carries the join token");
    }

    @Test
    void runsThePipelineTwiceOnTheSameLoadedShards() throws Exception {
        loadBoth();
        // the same assignment again does not reload
        Answer again = call(a0, "PUT", "/agent/shard", shard(0));
        assertEquals(202, again.status());
        assertEquals("READY", again.body().path("state").asText());
        assertTrue(again.body().path("weightBytes").asLong() > 0);

        // a schedule that does not cover the prompt is refused before anything runs
        DataEndpoint bad0 = open(a0, "run-bad-schedule");
        Answer badSchedule = call(a0, "POST", "/agent/runs/run-bad-schedule/start",
                explicitStart("run-bad-schedule", List.of(bad0, bad0), List.of(24, 8)));
        assertEquals(400, badSchedule.status());
        assertTrue(badSchedule.body().path("detail").asText().contains("chunkSchedule covers 32 tokens but the prompt has 40"),
                badSchedule.body().toString());
        assertEquals(202, call(a0, "DELETE", "/agent/runs/run-bad-schedule", null).status());

        for (String runId : List.of("run-fixed", "run-dynamic", "run-explicit")) {
            boolean dynamic = runId.endsWith("dynamic");
            boolean explicit = runId.endsWith("explicit");
            DataEndpoint e0 = open(a0, runId);
            DataEndpoint e1 = open(a1, runId);
            assertEquals(e0, open(a0, runId), "open is idempotent per run");
            List<DataEndpoint> peers = List.of(e0, e1);
            RunStart start = explicit ? explicitStart(runId, peers, EXPLICIT) : runStart(runId, dynamic, peers, 10_000);
            assertEquals(202, call(a1, "POST", "/agent/runs/" + runId + "/start", start).status());
            assertEquals(202, call(a0, "POST", "/agent/runs/" + runId + "/start", start).status());
            cp.awaitReport(runId, 0, "done", 20_000);
            cp.awaitReport(runId, 1, "done", 20_000);

            JsonNode result = cp.awaitReport(runId, 1, "result", 0).path("body");
            float[] logits = new float[result.path("lastLogits").size()];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) result.path("lastLogits").get(i).asDouble();
            }
            double err = TestModels.relativeError(logits, reference.lastLogits());
            assertTrue(err <= TOLERANCE, runId + ": relative error " + err);
            int[] generated = FakeControlPlane.JSON.treeToValue(result.path("generated"), int[].class);
            assertArrayEquals(reference.generated(), generated, runId);

            JsonNode chunking = cp.awaitReport(runId, 0, "chunking", 0).path("body");
            assertEquals(dynamic, chunking.path("dynamicRequested").asBoolean());
            for (int rank = 0; rank < 2; rank++) {
                int r = rank;
                List<JsonNode> mine = cp.snapshot(cp.reports, n -> n.path("runId").asText().equals(runId)
                        && n.path("rank").asInt() == r);
                for (int i = 0; i < mine.size(); i++) {
                    assertEquals(i, mine.get(i).path("seq").asLong(), "reports arrive in order, seq from 0");
                }
                assertEquals("done", mine.get(mine.size() - 1).path("type").asText());
                JsonNode timeline = cp.awaitReport(runId, rank, "timeline", 0).path("body");
                assertEquals(rank, timeline.path("rank").asInt());
                if (explicit) { // every rank ran exactly the given chunks, in order
                    List<Integer> sizes = new java.util.ArrayList<>();
                    timeline.path("events").forEach(ev -> {
                        if (ev.path("request").asInt() == 0 && !ev.path("decode").asBoolean()) {
                            sizes.add(ev.path("size").asInt());
                        }
                    });
                    assertEquals(EXPLICIT, sizes, timeline.toString());
                }
                // one clock for every rank: all events lie shortly after rank 0's epoch
                for (JsonNode ev : timeline.path("events")) {
                    assertTrue(ev.path("startMs").asDouble() > -50 && ev.path("startMs").asDouble() < 20_000, ev.toString());
                }
            }
            List<JsonNode> progress = cp.snapshot(cp.reports, n -> n.path("runId").asText().equals(runId)
                    && n.path("type").asText().equals("progress"));
            assertEquals(PROMPT.length, progress.get(progress.size() - 1).path("body").path("done").asInt());
            awaitState(a0, "READY");
            awaitState(a1, "READY");
        }
    }

    @Test
    void tensorParallelRanksAllReduceOverTheRunsTransport() throws Exception {
        // pp 1 × tp 2: both agents hold half of every layer; they warmed up alone, the run's all-reduces pair them
        for (int rank = 0; rank < 2; rank++) {
            WorkerAgent agent = rank == 0 ? a0 : a1;
            assertEquals(202, call(agent, "PUT", "/agent/shard",
                    new ShardAssignment("dep-tp", MODEL.toString(), 1, 2, List.of(4), rank, 1, 64)).status());
        }
        awaitState(a0, "READY");
        awaitState(a1, "READY");
        List<DataEndpoint> peers = List.of(open(a0, "run-tp"), open(a1, "run-tp"));
        assertEquals(202, call(a0, "POST", "/agent/runs/run-tp/start", runStart("run-tp", true, peers, 10_000)).status());
        assertEquals(202, call(a1, "POST", "/agent/runs/run-tp/start", runStart("run-tp", true, peers, 10_000)).status());
        cp.awaitReport("run-tp", 0, "done", 20_000);
        cp.awaitReport("run-tp", 1, "done", 20_000);
        JsonNode result = cp.awaitReport("run-tp", 0, "result", 0).path("body");
        float[] logits = new float[result.path("lastLogits").size()];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) result.path("lastLogits").get(i).asDouble();
        }
        assertTrue(TestModels.relativeError(logits, reference.lastLogits()) <= TOLERANCE);
        assertArrayEquals(reference.generated(), FakeControlPlane.JSON.treeToValue(result.path("generated"), int[].class));
        awaitState(a0, "READY");
        awaitState(a1, "READY");
    }

    @Test
    void refusesCallsWithoutItsOwnAgentTokenTheJoinTokenIncluded() throws Exception {
        for (String token : new String[] {null, "wrong-token", TOKEN, cp.agentToken(a1.workerId())}) {
            Answer a = call(a0, "GET", "/agent/status", null, token);
            assertEquals(401, a.status());
            assertEquals("Unauthorized", a.body().path("title").asText());
            assertEquals(401, a.body().path("status").asInt());
            assertTrue(a.body().path("detail").asText().contains("Bearer"));
        }
        assertEquals(401, call(a0, "PUT", "/agent/shard", shard(0), "wrong").status());
        // the join token, which every worker holds, can no longer take another worker's shard away
        assertEquals(202, call(a0, "PUT", "/agent/shard", shard(0)).status());
        Answer release = call(a0, "DELETE", "/agent/shard", null, TOKEN);
        assertEquals(401, release.status(), release.body().toString());
        assertEquals("dep-1", call(a0, "GET", "/agent/status", null).body().path("deploymentId").asText());
        assertEquals(200, call(a0, "DELETE", "/agent/shard", null).status());
    }

    @Test
    void silentAndHalfOpenConnectionsDoNotStopTheApi() throws Exception {
        java.util.List<java.net.Socket> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 64; i++) {
                java.net.Socket k = new java.net.Socket("127.0.0.1", a0.agentUrl().getPort());
                if (i % 2 == 0) {
                    // half a request: a request line and a header, never the blank line that ends the headers
                    k.getOutputStream().write("GET /agent/status HTTP/1.1\r\nHost: x\r\n".getBytes());
                    k.getOutputStream().flush();
                }
                held.add(k);
            }
            long t0 = System.nanoTime();
            HttpRequest r = HttpRequest.newBuilder(URI.create(a0.agentUrl() + "/agent/status")).timeout(Duration.ofSeconds(3))
                    .header("Authorization", "Bearer " + cp.agentToken(a0.workerId())).build();
            HttpResponse<String> answer = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(200, answer.statusCode(), answer.body());
            assertTrue(ms < 1_000, "a real request took " + ms + " ms behind 64 idle connections");
        } finally {
            for (java.net.Socket k : held) {
                k.close();
            }
        }
    }

    @Test
    void badShardAssignmentsNameTheField() throws Exception {
        Answer rank = call(a0, "PUT", "/agent/shard", new ShardAssignment("d", MODEL.toString(), 2, 1, List.of(2, 2), 5, 1, 64));
        assertEquals(400, rank.status());
        assertTrue(rank.body().path("detail").asText().contains("rank 5"), rank.body().toString());
        Answer layers = call(a0, "PUT", "/agent/shard", new ShardAssignment("d", MODEL.toString(), 2, 1, List.of(2, 3), 0, 1, 64));
        assertEquals(400, layers.status());
        assertTrue(layers.body().path("detail").asText().contains("layersPerStage"), layers.body().toString());
        Answer dir = call(a0, "PUT", "/agent/shard", new ShardAssignment("d", "/no/such/model", 2, 1, List.of(2, 2), 0, 1, 64));
        assertEquals(400, dir.status());
        assertTrue(dir.body().path("detail").asText().contains("modelDir"), dir.body().toString());
        Answer type = call(a0, "PUT", "/agent/shard", "{\"deploymentId\":\"d\",\"pp\":\"two\"}");
        assertEquals(400, type.status());
        assertTrue(type.body().path("detail").asText().contains("pp"), type.body().toString());
        assertEquals(405, call(a0, "POST", "/agent/status", null).status());
        assertEquals(404, call(a0, "GET", "/agent/nothing", null).status());
    }

    @Test
    void anIdleWorkerRefusesRunsAndRegistersAgainWhenForgotten() throws Exception {
        try (WorkerAgent idle = WorkerAgent.start(options(Map.of()))) {
            assertTrue(idle.awaitRegistered(Duration.ofSeconds(10)));
            Answer open = call(idle, "POST", "/agent/runs/r1/open", null);
            assertEquals(409, open.status());
            assertTrue(open.body().path("detail").asText().contains("IDLE"), open.body().toString());
            Answer start = call(idle, "POST", "/agent/runs/r1/start", runStart("r1", false, List.of(), 1000));
            assertEquals(409, start.status());
            assertTrue(start.body().path("detail").asText().contains("not opened"), start.body().toString());

            assertEquals(202, call(idle, "PUT", "/agent/shard", shard(1)).status());
            awaitState(idle, "READY");
            Answer released = call(idle, "DELETE", "/agent/shard", null);
            assertEquals(200, released.status());
            assertEquals("IDLE", released.body().path("state").asText());

            // a control plane that restarted answers 404 to heartbeats: the worker registers again
            String first = idle.workerId();
            cp.forget(first);
            long deadline = System.currentTimeMillis() + 5000;
            while (idle.workerId().equals(first) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertFalse(idle.workerId().equals(first), "registered again after a 404 heartbeat");
        }
    }

    @Test
    void anAbortEndsTheRunWithAnErrorReport() throws Exception {
        loadBoth();
        DataEndpoint e0 = open(a0, "run-abort");
        // rank 1 never starts: rank 0 waits for it to connect until the abort
        assertEquals(202, call(a0, "POST", "/agent/runs/run-abort/start",
                runStart("run-abort", false, List.of(e0, new DataEndpoint("127.0.0.1", 9)), 30_000)).status());
        awaitState(a0, "RUNNING");
        Answer second = call(a0, "POST", "/agent/runs/run-other/open", null);
        assertEquals(409, second.status());
        assertTrue(second.body().path("detail").asText().contains("RUNNING"), second.body().toString());
        assertEquals(409, call(a0, "POST", "/agent/runs/run-abort/start",
                runStart("run-abort", false, List.of(e0, e0), 30_000)).status());
        Answer bad = call(a0, "POST", "/agent/runs/run-x/start", "{\"tokens\": \"many\"}");
        assertEquals(400, bad.status());
        assertTrue(bad.body().path("detail").asText().contains("tokens"), bad.body().toString());

        long t0 = System.nanoTime();
        assertEquals(202, call(a0, "DELETE", "/agent/runs/run-abort", null).status());
        JsonNode error = cp.awaitReport("run-abort", 0, "error", 5000);
        assertTrue((System.nanoTime() - t0) / 1e9 < 5);
        assertEquals("aborted by the control plane", error.path("body").path("message").asText());
        awaitState(a0, "READY");
    }

    @Test
    void aPeerThatGoesAwayFailsTheRunNamingIt() throws Exception {
        loadBoth();
        DataEndpoint e1 = open(a1, "run-lost");
        try (ServerSocket fakeRank0 = new ServerSocket(0, 4, InetAddress.getByName("127.0.0.1"))) {
            assertEquals(202, call(a1, "POST", "/agent/runs/run-lost/start", runStart("run-lost", false,
                    List.of(new DataEndpoint("127.0.0.1", fakeRank0.getLocalPort()), e1), 30_000)).status());
            // a real rank 0 of the same run (its secret) connects with rank 1, then goes away
            RunStart rs = runStart("run-lost", false, List.of(), 30_000);
            List<InetSocketAddress> addrs = List.of(new InetSocketAddress("127.0.0.1", fakeRank0.getLocalPort()),
                    new InetSocketAddress(e1.host(), e1.port()));
            SocketTransport.connect(0, fakeRank0, addrs, Duration.ofSeconds(10), Duration.ofSeconds(10), r -> "rank " + r,
                    SocketTransport.Admission.of(RunSecret.parse(rs.dataSecret(), "dataSecret"), 1 << 20)).close();
            JsonNode error = cp.awaitReport("run-lost", 1, "error", 5000);
            String message = error.path("body").path("message").asText();
            assertTrue(message.contains("rank 0"), message);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        awaitState(a1, "READY");
    }
}
