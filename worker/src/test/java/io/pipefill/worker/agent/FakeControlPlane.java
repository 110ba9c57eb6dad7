package io.pipefill.worker.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pipefill.model.agent.RegistrationAccepted;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Plays the control plane's three worker-facing routes on a real HTTP server and records what arrives:
 * registrations, heartbeats and run reports. Like the real one, it admits a registration with the join token,
 * keeps the agent token the worker hands over, answers with a credential of the worker's own, and takes
 * heartbeats and reports only with that credential. {@link #forget} makes it answer a worker's heartbeats with
 * 404, as a restarted control plane would.
 */
final class FakeControlPlane implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    private final String token;
    private final HttpServer server;
    private final AtomicInteger ids = new AtomicInteger();
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    /** Per worker id: the credential issued to it, and the agent token it handed over. */
    private final Map<String, String> credentials = new ConcurrentHashMap<>();
    private final Map<String, String> agentTokens = new ConcurrentHashMap<>();
    final List<JsonNode> registrations = new ArrayList<>();
    final List<JsonNode> heartbeats = new ArrayList<>();
    final List<JsonNode> reports = new ArrayList<>();
    final AtomicInteger unauthorized = new AtomicInteger();
    /** Statuses to answer the next report posts with, in order; 200 once empty. */
    final Queue<Integer> reportAnswers = new ConcurrentLinkedQueue<>();
    final AtomicInteger reportPosts = new AtomicInteger();

    FakeControlPlane(String token) throws IOException {
        this.token = token;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.createContext("/api/v1/agent/", this::handle);
        server.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    void forget(String workerId) {
        known.remove(workerId);
    }

    /** The token the agent of this worker id accepts (what the control plane would present to it). */
    String agentToken(String workerId) {
        return agentTokens.get(workerId);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String bearer = ex.getRequestHeaders().getFirst("Authorization");
            boolean registration = path.equals("/api/v1/agent/workers");
            // the join token admits a registration only; everything else takes the worker's own credential
            if (registration ? !("Bearer " + token).equals(bearer)
                    : bearer == null || !credentials.containsValue(bearer.substring("Bearer ".length()))) {
                unauthorized.incrementAndGet();
                ex.sendResponseHeaders(401, -1);
                return;
            }
            JsonNode body = JSON.readTree(ex.getRequestBody());
            if (registration) {
                String agentToken = ex.getRequestHeaders().getFirst(ControlPlaneClient.AGENT_TOKEN_HEADER);
                if (agentToken == null || agentToken.length() < 32) {
                    ex.sendResponseHeaders(400, -1);
                    return;
                }
                String id = "w" + ids.incrementAndGet();
                known.add(id);
                agentTokens.put(id, agentToken);
                String credential = "pfw_credential-of-" + id + "-" + java.util.UUID.randomUUID();
                credentials.put(id, credential);
                record(registrations, body);
                byte[] answer = JSON.writeValueAsBytes(new RegistrationAccepted(id, "node-" + id, 100));
                ex.getResponseHeaders().set(ControlPlaneClient.WORKER_CREDENTIAL_HEADER, credential);
                ex.sendResponseHeaders(200, answer.length);
                ex.getResponseBody().write(answer);
            } else if (path.matches("/api/v1/agent/workers/[^/]+/heartbeat")) {
                String id = path.split("/")[5];
                if (!bearer.equals("Bearer " + credentials.get(id))) {
                    ex.sendResponseHeaders(403, -1);
                    return;
                }
                if (!known.contains(id)) {
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                record(heartbeats, JSON.createObjectNode().put("workerId", id).setAll((com.fasterxml.jackson.databind.node.ObjectNode) body));
                ex.sendResponseHeaders(200, -1);
            } else if (path.matches("/api/v1/agent/runs/[^/]+/reports(/batch)?")) {
                reportPosts.incrementAndGet();
                Integer answer = reportAnswers.poll();
                if (answer != null && answer != 200) {
                    byte[] b = ("{\"detail\":\"answered " + answer + " as told\"}").getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(answer, b.length);
                    ex.getResponseBody().write(b);
                    return;
                }
                // a batch is the same reports, in order, in one request; recorded with the report's type beside
                // its sender, and the report itself as the body
                for (JsonNode one : body.isArray() ? body : List.of(body)) {
                    record(reports, JSON.createObjectNode().put("runId", path.split("/")[5])
                            .put("workerId", one.path("workerId").asText()).put("rank", one.path("rank").asInt())
                            .put("seq", one.path("seq").asLong()).put("type", one.path("report").path("type").asText())
                            .set("body", one.path("report")));
                }
                ex.sendResponseHeaders(200, -1);
            } else {
                byte[] b = ("no route " + path).getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(404, b.length);
                ex.getResponseBody().write(b);
            }
        }
    }

    private synchronized void record(List<JsonNode> list, JsonNode node) {
        list.add(node);
        notifyAll();
    }

    /** Waits until some recorded node of {@code list} matches; fails after {@code millis}. */
    synchronized JsonNode await(List<JsonNode> list, Predicate<JsonNode> match, long millis, String what)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (true) {
            for (JsonNode n : list) {
                if (match.test(n)) {
                    return n;
                }
            }
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                throw new AssertionError("no " + what + " within " + millis + " ms; got " + list.stream()
                        .map(n -> n.path("type").asText() + "@" + n.path("rank").asText() + ":" + n.path("body").path("message").asText(""))
                        .toList());
            }
            wait(left);
        }
    }

    synchronized List<JsonNode> snapshot(List<JsonNode> list, Predicate<JsonNode> match) {
        return list.stream().filter(match).toList();
    }

    JsonNode awaitReport(String runId, int rank, String type, long millis) throws InterruptedException {
        return await(reports, r -> r.path("runId").asText().equals(runId) && r.path("rank").asInt() == rank
                && r.path("type").asText().equals(type), millis, type + " report of rank " + rank + " for run " + runId);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
