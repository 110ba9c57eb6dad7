package io.pipefill.worker.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.pipefill.model.agent.RunStart;
import io.pipefill.model.agent.ShardAssignment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's HTTP API (routes in {@code io.pipefill.model.agent}'s package-info): bearer-token check, route
 * and method dispatch, JSON bodies, and errors as problem JSON ({@code title, status, detail}).
 */
final class AgentHttp implements HttpHandler {
    private static final Pattern RUN = Pattern.compile("/agent/runs/([^/]+)(/open|/start)?");
    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
    private static final int MAX_BODY = 64 << 20;

    private final WorkerAgent agent;
    private final byte[] expectedAuthorization;

    AgentHttp(WorkerAgent agent, String joinToken) {
        this.agent = agent;
        this.expectedAuthorization = ("Bearer " + joinToken).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        try (ex) {
            try {
                if (!authorized(ex)) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"pipefill-agent\"");
                    problem(ex, 401, "Unauthorized", "this API needs the join token as 'Authorization: Bearer <token>'");
                    return;
                }
                route(ex);
            } catch (AgentException e) {
                problem(ex, e.status(), e.title(), e.getMessage());
            } catch (RuntimeException e) {
                System.err.println("pipefill agent: " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath()
                        + " failed: " + e);
                problem(ex, 500, "Internal Server Error", ReportSender.describe(e));
            }
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        switch (path) {
            case "/agent/status" -> {
                allow(method, "GET");
                json(ex, 200, agent.status());
            }
            case "/agent/shard" -> {
                allow(method, "PUT", "DELETE");
                if (method.equals("PUT")) {
                    json(ex, 202, agent.assign(AgentJson.read(body(ex), ShardAssignment.class)));
                } else {
                    json(ex, 200, agent.releaseShard());
                }
            }
            default -> {
                Matcher m = RUN.matcher(path);
                if (!m.matches()) {
                    throw AgentException.notFound("no route " + path + "; the agent serves /agent/status, /agent/shard,"
                            + " /agent/runs/{runId}/open, /agent/runs/{runId}/start and /agent/runs/{runId}");
                }
                String runId = m.group(1);
                if (!RUN_ID.matcher(runId).matches()) {
                    throw AgentException.badRequest("run id '" + runId + "' must be 1 to 128 of A-Z a-z 0-9 . _ : -");
                }
                String action = m.group(2);
                if (action == null) {
                    allow(method, "DELETE");
                    json(ex, 202, agent.abort(runId));
                } else if (action.equals("/open")) {
                    allow(method, "POST");
                    json(ex, 200, agent.open(runId));
                } else {
                    allow(method, "POST");
                    json(ex, 202, agent.start(runId, AgentJson.read(body(ex), RunStart.class)));
                }
            }
        }
    }

    private boolean authorized(HttpExchange ex) {
        String h = ex.getRequestHeaders().getFirst("Authorization");
        // constant time, so that the answer's timing does not leak the token
        return h != null && MessageDigest.isEqual(h.strip().getBytes(StandardCharsets.UTF_8), expectedAuthorization);
    }

    private static void allow(String method, String... allowed) {
        for (String a : allowed) {
            if (a.equals(method)) {
                return;
            }
        }
        throw new AgentException(405, "Method Not Allowed", method + " is not allowed here; allowed: "
                + String.join(", ", allowed));
    }

    private static byte[] body(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            if (b.length > MAX_BODY) {
                throw AgentException.badRequest("the body is larger than " + (MAX_BODY >> 20) + " MiB");
            }
            return b;
        }
    }

    private static void json(HttpExchange ex, int status, Object value) throws IOException {
        send(ex, status, "application/json", AgentJson.write(value));
    }

    private static void problem(HttpExchange ex, int status, String title, String detail) throws IOException {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("title", title);
        p.put("status", status);
        p.put("detail", detail);
        send(ex, status, "application/problem+json", AgentJson.write(p));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }
}
