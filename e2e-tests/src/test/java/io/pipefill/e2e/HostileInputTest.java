package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input at every boundary of a running system: bad or missing tokens on every route, oversized and
 * malformed bodies, huge numbers, a model location outside the models root, and calls straight to a worker's agent
 * API and data port from a stranger (a worker obeys only its control plane). Each is refused with a clear answer, and
 * the system goes on serving correctly.
 */
class HostileInputTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Every admin route, with a body where it takes one. */
    private static final List<String[]> ADMIN_ROUTES = List.of(
            new String[] {"GET", "/api/v1/nodes"}, new String[] {"GET", "/api/v1/workers"},
            new String[] {"GET", "/api/v1/models"}, new String[] {"POST", "/api/v1/models"},
            new String[] {"POST", "/api/v1/plans"}, new String[] {"GET", "/api/v1/deployments"},
            new String[] {"POST", "/api/v1/deployments"}, new String[] {"DELETE", "/api/v1/deployments/tiny-pp2"},
            new String[] {"GET", "/api/v1/runs"}, new String[] {"POST", "/api/v1/runs"},
            new String[] {"GET", "/api/v1/kubernetes"}, new String[] {"POST", "/api/v1/workers/00000000-0000-0000-0000-000000000000/drain"},
            new String[] {"POST", "/api/v1/agent/workers"});

    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void everyBoundaryRefusesHostileInputAndTheSystemGoesOnServing() throws Exception {
        int dataPort = ControlPlane.freePort();
        try (ControlPlane cp = ControlPlane.start("HostileInputTest", tmp.resolve("cp"), Map.of())) {
            // rank 0 (the first worker) accepts the other ranks' connections on its data port
            cp.startWorker("n1", "--data-port", String.valueOf(dataPort));
            cp.startWorker("n2");
            Api api = cp.api();
            cp.createModel("tiny", "--preset", "tiny", "--seed", "13");
            api.awaitWorkers("IDLE", 2, Duration.ofMinutes(2));
            cp.deploy(Map.of("name", "tiny-pp2", "model", "tiny", "pp", 2, "chunkSize", 64, "maxTokens", 8192));
            String join = java.nio.file.Files.readString(cp.dataDir().resolve("join-token")).trim();

            // tokens: none, wrong, and the join token on admin routes; the admin token does not register workers
            for (String[] route : ADMIN_ROUTES) {
                for (String bearer : Arrays.asList(null, "not-the-token", join)) {
                    if (route[1].startsWith("/api/v1/agent/") && join.equals(bearer)) {
                        continue; // the join token is what registers a worker
                    }
                    Api.Response r = api.send(route[0], route[1], "{}", "application/json", bearer);
                    // a stranger is not told what exists (401); a worker's join token is known, and told where it belongs (403)
                    assertThat(r.status()).as("%s %s with %s: %s", route[0], route[1],
                            bearer == null ? "no token" : bearer.equals(join) ? "the join token" : "a wrong token", r.body())
                            .isEqualTo(join.equals(bearer) ? 403 : 401);
                    assertThat(r.body()).doesNotContain(join).doesNotContain(cp.adminToken());
                }
            }

            // malformed, huge and oversized bodies: 400/413 problems naming what was wrong
            Api.Response malformed = api.send("POST", "/api/v1/runs", "{\"deployment\": \"tiny-pp2\", ", "application/json", cp.adminToken());
            assertThat(malformed.status()).isEqualTo(400);
            assertThat(malformed.contentType()).startsWith("application/problem+json");
            Api.Response huge = api.send("POST", "/api/v1/runs",
                    "{\"deployment\":\"tiny-pp2\",\"randomTokens\":99999999999999999999999,\"maxNewTokens\":1}", "application/json", cp.adminToken());
            assertThat(huge.status()).isEqualTo(400);
            assertThat(huge.body()).contains("randomTokens");
            Api.Response absurd = api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 2_000_000_000));
            assertThat(absurd.status()).isEqualTo(400);
            assertThat(absurd.body()).contains("randomTokens").contains("16777216");
            Api.Response tooLong = api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 100_000));
            assertThat(tooLong.status()).isEqualTo(400);
            assertThat(tooLong.body()).as("names the deployment's room").contains("8192");
            Api.Response negative = api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 10, "maxNewTokens", -5));
            assertThat(negative.status()).isEqualTo(400);
            assertThat(negative.body()).contains("maxNewTokens");
            String big = "{\"deployment\":\"tiny-pp2\",\"text\":\"" + "a".repeat(80 << 20) + "\"}";
            Api.Response oversized = api.send("POST", "/api/v1/runs", big, "application/json", cp.adminToken());
            assertThat(oversized.status()).as(oversized.body()).isIn(400, 413);
            assertThat(oversized.contentType()).startsWith("application/problem+json");

            // a model location outside the models root
            Api.Response outside = api.post("/api/v1/models", Map.of("name", "etc", "location", "/etc"));
            assertThat(outside.status()).isEqualTo(400);
            assertThat(outside.json().get("detail")).asString().contains("models root");

            // straight to a worker's agent API: no token, a wrong one, the admin token — all refused
            Map<String, Object> worker = api.listOk("/api/v1/workers").get(0);
            String agent = (String) worker.get("agentUrl");
            for (String bearer : Arrays.asList(null, "not-the-token", cp.adminToken(), join)) {
                for (String[] route : List.of(new String[] {"GET", "/agent/status"}, new String[] {"DELETE", "/agent/shard"},
                        new String[] {"POST", "/agent/runs/x/open"})) {
                    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(agent + route[1])).timeout(Duration.ofSeconds(10))
                            .method(route[0], HttpRequest.BodyPublishers.noBody());
                    if (bearer != null) {
                        b.header("Authorization", "Bearer " + bearer);
                    }
                    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(r.statusCode()).as("%s %s%s", route[0], agent, route[1]).isEqualTo(401);
                }
            }

            // straight to the accepting rank's data port during a run: a stranger gets at most the port's challenge,
            // never an activation, and the run is not disturbed (in the accept phase the port refuses it and says so;
            // after it, the stranger waits unanswered until the run closes the port)
            String run = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 4000, "maxNewTokens", 4), 201).get("id");
            api.await("/api/v1/runs/" + run, m -> "RUNNING".equals(m.get("state")) || "SUCCEEDED".equals(m.get("state")),
                    Duration.ofMinutes(1), "run started");
            long received = 0;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", dataPort), 5000);
                s.setSoTimeout(60_000);
                OutputStream out = s.getOutputStream();
                out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.write(new byte[64 << 10]);
                out.flush();
                InputStream in = s.getInputStream();
                byte[] sink = new byte[4096];
                for (int n; (n = in.read(sink)) >= 0; ) {
                    received += n;
                }
            } catch (java.net.ConnectException notListening) {
                // the run was already over: nothing to intrude on
            } catch (java.net.SocketException reset) {
                // hung up on
            }
            assertThat(received).as("bytes a stranger got from the data port").isLessThan(128);
            Map<String, Object> after = api.awaitEnd(run, Duration.ofMinutes(1));
            assertThat(after.get("state")).as("%s", after.get("error")).isEqualTo("SUCCEEDED");
            assertThat(api.getOk("/api/v1/deployments/tiny-pp2").get("state")).isEqualTo("READY");
            assertThat((List<Object>) after.get("generated")).hasSize(4);
        }
    }
}
