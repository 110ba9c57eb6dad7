package io.pipefill.controlplane.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A worker agent's API on a real socket, as far as the control plane calls it: it accepts one agent token
 * (which {@link #restartWith} changes, as a restarted process would generate a new one), answers status,
 * opens runs on a made-up data port, takes starts and aborts, and records every call with the bearer it came with.
 */
public final class FakeAgent implements AutoCloseable {
    /** One call the agent received: method, path and the Authorization header. */
    public record Call(String method, String path, String authorization) {
    }

    private final HttpServer server;
    private volatile String token;
    public final List<Call> calls = new CopyOnWriteArrayList<>();

    public FakeAgent(String token) throws IOException {
        this.token = token;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", this::handle);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public void restartWith(String newToken) {
        token = newToken;
    }

    public List<Call> calls(String pathPart) {
        return calls.stream().filter(c -> c.path().contains(pathPart)).toList();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String path = ex.getRequestURI().getPath();
            calls.add(new Call(ex.getRequestMethod(), path, auth));
            ex.getRequestBody().readAllBytes();
            if (!("Bearer " + token).equals(auth)) {
                send(ex, 401, "{\"title\":\"Unauthorized\",\"status\":401,\"detail\":\"not this agent's token\"}");
            } else if (path.equals("/agent/status")) {
                send(ex, 200, "{\"workerId\":null,\"state\":\"READY\",\"deploymentId\":null,\"rank\":null,\"runId\":null,"
                        + "\"error\":null,\"weightBytes\":1,\"kvCacheBytes\":1}");
            } else if (path.endsWith("/open")) {
                send(ex, 200, "{\"host\":\"127.0.0.1\",\"port\":9}");
            } else if (path.endsWith("/start") || path.startsWith("/agent/runs/") || path.equals("/agent/shard")) {
                send(ex, 202, "{\"workerId\":null,\"state\":\"RUNNING\",\"deploymentId\":null,\"rank\":null,\"runId\":null,"
                        + "\"error\":null,\"weightBytes\":1,\"kvCacheBytes\":1}");
            } else {
                send(ex, 404, "{\"detail\":\"no route\"}");
            }
        }
    }

    private static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", status / 100 == 2 ? "application/json" : "application/problem+json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
