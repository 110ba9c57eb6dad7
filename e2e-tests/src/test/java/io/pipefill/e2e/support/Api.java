package io.pipefill.e2e.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import tools.jackson.databind.json.JsonMapper;

/** The control plane's REST API as a client sees it: plain HTTP with a bearer token, JSON in and out. */
public final class Api {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String base;
    private final String token;

    public Api(String base, String token) {
        this.base = base;
        this.token = token;
    }

    public String base() {
        return base;
    }

    /** An answer: status, body and content type. */
    public record Response(int status, String body, String contentType) {
        @SuppressWarnings("unchecked")
        public Map<String, Object> json() {
            return JSON.readValue(body, Map.class);
        }

        @SuppressWarnings("unchecked")
        public List<Map<String, Object>> list() {
            return JSON.readValue(body, List.class);
        }

        @SuppressWarnings("unchecked")
        public List<Number> numbers() {
            return JSON.readValue(body, List.class);
        }
    }

    public Response send(String method, String path, String body, String contentType, String bearer) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Response(r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse(""));
    }

    public Response get(String path) throws IOException, InterruptedException {
        return send("GET", path, null, null, token);
    }

    public Response post(String path, Object body) throws IOException, InterruptedException {
        return send("POST", path, JSON.writeValueAsString(body), "application/json", token);
    }

    public Response delete(String path) throws IOException, InterruptedException {
        return send("DELETE", path, null, null, token);
    }

    /** GET that must answer 200. */
    public Map<String, Object> getOk(String path) throws IOException, InterruptedException {
        Response r = get(path);
        assertThat(r.status()).as("GET %s: %s", path, r.body()).isEqualTo(200);
        return r.json();
    }

    public List<Map<String, Object>> listOk(String path) throws IOException, InterruptedException {
        Response r = get(path);
        assertThat(r.status()).as("GET %s: %s", path, r.body()).isEqualTo(200);
        return r.list();
    }

    /** POST that must answer {@code status}. */
    public Map<String, Object> post(String path, Object body, int status) throws IOException, InterruptedException {
        Response r = post(path, body);
        assertThat(r.status()).as("POST %s %s: %s", path, body, r.body()).isEqualTo(status);
        return r.json();
    }

    /** Polls {@code path} until {@code done} holds; fails with the last answer after {@code within}. */
    public Map<String, Object> await(String path, Predicate<Map<String, Object>> done, Duration within, String what)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        Map<String, Object> last = null;
        while (System.nanoTime() < deadline) {
            Response r = get(path);
            if (r.status() == 200) {
                last = r.json();
                if (done.test(last)) {
                    return last;
                }
            }
            Thread.sleep(200);
        }
        return fail(what + " not within " + within.toSeconds() + " s; last " + path + ": " + last);
    }

    /** Waits for a run to reach an end state and returns its record. */
    public Map<String, Object> awaitEnd(String runId, Duration within) throws IOException, InterruptedException {
        return await("/api/v1/runs/" + runId, m -> List.of("SUCCEEDED", "FAILED", "CANCELLED").contains(m.get("state")),
                within, "run " + runId + " ended");
    }

    /** Waits until {@code count} workers are in {@code state}. */
    public List<Map<String, Object>> awaitWorkers(String state, int count, Duration within) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        List<Map<String, Object>> last = List.of();
        while (System.nanoTime() < deadline) {
            Response r = get("/api/v1/workers");
            if (r.status() == 200) {
                last = r.list();
                List<Map<String, Object>> in = last.stream().filter(w -> state.equals(w.get("state"))).toList();
                if (in.size() >= count) {
                    return in;
                }
            }
            Thread.sleep(200);
        }
        return fail(count + " workers " + state + " not within " + within.toSeconds() + " s; workers: " + last);
    }

    /** The ids of the workers (in any state) registered from the node named {@code node}. */
    public List<String> workersOnNode(String node) throws IOException, InterruptedException {
        String nodeId = listOk("/api/v1/nodes").stream().filter(n -> node.equals(n.get("name")))
                .map(n -> (String) n.get("id")).findFirst().orElseThrow(() -> new AssertionError("no node " + node));
        return listOk("/api/v1/workers").stream().filter(w -> nodeId.equals(w.get("nodeId")))
                .map(w -> (String) w.get("id")).toList();
    }
}
