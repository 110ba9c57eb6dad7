package io.pipefill.worker.agent;

import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.RunReport;
import io.pipefill.model.agent.WorkerRegistration;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The control plane's three worker-facing routes, with bounded timeouts. The join token is presented for a
 * registration only; the registration hands over this agent's token (what the control plane must present to
 * the agent API) in {@value #AGENT_TOKEN_HEADER} and is answered with this worker's own credential in
 * {@value #WORKER_CREDENTIAL_HEADER}, the bearer of every heartbeat and report after it.
 */
final class ControlPlaneClient {
    /** Must match the control plane's {@code cluster.WorkerCredentials} header names. */
    static final String AGENT_TOKEN_HEADER = "Pipefill-Agent-Token";
    static final String WORKER_CREDENTIAL_HEADER = "Pipefill-Worker-Credential";
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private final URI base;
    private final String joinToken;
    private final String agentToken;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    // this worker's credential, from its latest accepted registration; null before the first
    private volatile String credential;

    ControlPlaneClient(URI base, String joinToken, String agentToken) {
        String s = base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.joinToken = joinToken;
        this.agentToken = agentToken;
    }

    URI base() {
        return base;
    }

    URI registrationUri() {
        return URI.create(base + "/api/v1/agent/workers");
    }

    /** One registration attempt: the accepted ids, or an IOException naming the URL and the answer. */
    RegistrationAccepted register(WorkerRegistration registration) throws IOException, InterruptedException {
        URI uri = registrationUri();
        HttpResponse<byte[]> r = post(uri, registration, joinToken, AGENT_TOKEN_HEADER, agentToken);
        if (r.statusCode() / 100 != 2) {
            throw new IOException("POST " + uri + " answered " + r.statusCode() + describeBody(r));
        }
        RegistrationAccepted a = AgentJson.MAPPER.readValue(r.body(), RegistrationAccepted.class);
        if (a == null || a.workerId() == null || a.workerId().isBlank()) {
            throw new IOException("POST " + uri + " answered without a workerId");
        }
        String issued = r.headers().firstValue(WORKER_CREDENTIAL_HEADER).orElse("");
        if (issued.isBlank()) {
            throw new IOException("POST " + uri + " answered without the " + WORKER_CREDENTIAL_HEADER
                    + " header (a control plane older than this worker?)");
        }
        credential = issued.strip();
        return a;
    }

    /**
     * Sends a heartbeat and returns the HTTP status (404: the control plane lost this worker; 401: it does not know
     * this worker's credential, after a restart with a fresh database: either way, register again).
     */
    int heartbeat(String workerId, Heartbeat heartbeat) throws IOException, InterruptedException {
        return post(URI.create(base + "/api/v1/agent/workers/" + encode(workerId) + "/heartbeat"), heartbeat, credential)
                .statusCode();
    }

    /**
     * The control plane answered a report with a client error (other than 408 or 429): the answer is
     * final, a retry would get it again. 404 and 409 mean the run is unknown or no longer running.
     */
    static final class ReportRefused extends IOException {
        final int status;

        ReportRefused(int status, String message) {
            super(message);
            this.status = status;
        }

        boolean runIsOver() {
            return status == 404 || status == 409;
        }
    }

    /** Posts a rank's reports in order: one alone, several as one batch (one request, one answer). */
    void report(String runId, List<RunReport> reports) throws IOException, InterruptedException {
        URI uri = URI.create(base + "/api/v1/agent/runs/" + encode(runId) + "/reports" + (reports.size() == 1 ? "" : "/batch"));
        HttpResponse<byte[]> r = post(uri, reports.size() == 1 ? reports.get(0) : reports, credential);
        int status = r.statusCode();
        if (status / 100 == 4 && status != 408 && status != 429) {
            throw new ReportRefused(status, "POST " + uri + " answered " + status + describeBody(r));
        }
        if (status / 100 != 2) {
            throw new IOException("POST " + uri + " answered " + status + describeBody(r));
        }
    }

    private HttpResponse<byte[]> post(URI uri, Object body, String bearer, String... headers)
            throws IOException, InterruptedException {
        if (bearer == null) {
            throw new IOException("POST " + uri + " needs this worker's credential, and it has not registered yet");
        }
        HttpRequest.Builder req = HttpRequest.newBuilder(uri)
                .timeout(REQUEST_TIMEOUT)
                .header("Authorization", "Bearer " + bearer)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(AgentJson.write(body)));
        for (int i = 0; i < headers.length; i += 2) {
            req.header(headers[i], headers[i + 1]);
        }
        return http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static String describeBody(HttpResponse<byte[]> r) {
        String b = new String(r.body(), StandardCharsets.UTF_8).strip();
        return b.isEmpty() ? "" : ": " + (b.length() > 300 ? b.substring(0, 300) + "…" : b);
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
