package io.pipefill.worker.agent;

import io.pipefill.model.agent.RunStart;
import io.pipefill.model.agent.ShardAssignment;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's HTTP API (routes in {@code io.pipefill.model.agent}'s package-info): bearer-token check, route
 * and method dispatch, JSON bodies, and errors as problem JSON ({@code title, status, detail}). The bearer is
 * this agent's own token, which it generated and handed to the control plane at registration; the join token
 * (which every worker holds) is refused. The {@link AgentServer} feeds it complete requests.
 */
final class AgentHttp {
    static final int MAX_BODY = 64 << 20;
    private static final Pattern RUN = Pattern.compile("/agent/runs/([^/]+)(/open|/start)?");
    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    /** An answer: status, content type and body; {@code challenge} asks for a bearer (401). */
    record Answer(int status, String contentType, byte[] body, boolean challenge) {
    }

    private final WorkerAgent agent;
    private final byte[] expectedAuthorization;

    AgentHttp(WorkerAgent agent, String agentToken) {
        this.agent = agent;
        this.expectedAuthorization = ("Bearer " + agentToken).getBytes(StandardCharsets.UTF_8);
    }

    /** Answers one complete request. */
    Answer handle(String method, String path, String authorization, byte[] body) {
        try {
            if (!authorized(authorization)) {
                Answer a = problem(401, "Unauthorized", "this API needs 'Authorization: Bearer <token>' with the agent token"
                        + " this worker handed to the control plane at registration (not the join token)");
                return new Answer(a.status(), a.contentType(), a.body(), true);
            }
            return route(method, path, body);
        } catch (AgentException e) {
            return problem(e.status(), e.title(), e.getMessage());
        } catch (RuntimeException e) {
            System.err.println("pipefill agent: " + method + " " + shown(path) + " failed: " + e);
            return problem(500, "Internal Server Error", ReportSender.describe(e));
        }
    }

    private Answer route(String method, String path, byte[] body) {
        switch (path) {
            case "/agent/status" -> {
                allow(method, "GET");
                return json(200, agent.status());
            }
            case "/agent/shard" -> {
                allow(method, "PUT", "DELETE");
                if (method.equals("PUT")) {
                    return json(202, agent.assign(AgentJson.read(body, ShardAssignment.class)));
                }
                return json(200, agent.releaseShard());
            }
            default -> {
                Matcher m = RUN.matcher(path);
                if (!m.matches()) {
                    throw AgentException.notFound("no route " + shown(path) + "; the agent serves /agent/status, /agent/shard,"
                            + " /agent/runs/{runId}/open, /agent/runs/{runId}/start and /agent/runs/{runId}");
                }
                String runId = m.group(1);
                if (!RUN_ID.matcher(runId).matches()) {
                    throw AgentException.badRequest("run id '" + shown(runId) + "' must be 1 to 128 of A-Z a-z 0-9 . _ : -");
                }
                String action = m.group(2);
                if (action == null) {
                    allow(method, "DELETE");
                    return json(202, agent.abort(runId));
                } else if (action.equals("/open")) {
                    allow(method, "POST");
                    return json(200, agent.open(runId));
                }
                allow(method, "POST");
                return json(202, agent.start(runId, AgentJson.read(body, RunStart.class)));
            }
        }
    }

    private boolean authorized(String h) {
        // constant time, so that the answer's timing does not leak the token
        return h != null && MessageDigest.isEqual(h.strip().getBytes(StandardCharsets.UTF_8), expectedAuthorization);
    }

    private static void allow(String method, String... allowed) {
        for (String a : allowed) {
            if (a.equals(method)) {
                return;
            }
        }
        throw new AgentException(405, "Method Not Allowed", shown(method) + " is not allowed here; allowed: "
                + String.join(", ", allowed));
    }

    private static Answer json(int status, Object value) {
        return new Answer(status, "application/json", AgentJson.write(value), false);
    }

    static Answer problem(int status, String title, String detail) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("title", title);
        p.put("status", status);
        p.put("detail", detail);
        return new Answer(status, "application/problem+json", AgentJson.write(p), false);
    }

    /** A request's text echoed in an answer, cut short. */
    private static String shown(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "…";
    }
}
