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

/** The control plane's three worker-facing routes, each with the join token as bearer and bounded timeouts. */
final class ControlPlaneClient {
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private final URI base;
    private final String joinToken;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    ControlPlaneClient(URI base, String joinToken) {
        String s = base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.joinToken = joinToken;
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
        HttpResponse<byte[]> r = post(uri, registration);
        if (r.statusCode() / 100 != 2) {
            throw new IOException("POST " + uri + " answered " + r.statusCode() + describeBody(r));
        }
        RegistrationAccepted a = AgentJson.MAPPER.readValue(r.body(), RegistrationAccepted.class);
        if (a == null || a.workerId() == null || a.workerId().isBlank()) {
            throw new IOException("POST " + uri + " answered without a workerId");
        }
        return a;
    }

    /** Sends a heartbeat and returns the HTTP status (404: the control plane does not know this worker). */
    int heartbeat(String workerId, Heartbeat heartbeat) throws IOException, InterruptedException {
        return post(URI.create(base + "/api/v1/agent/workers/" + encode(workerId) + "/heartbeat"), heartbeat).statusCode();
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
        HttpResponse<byte[]> r = post(uri, reports.size() == 1 ? reports.get(0) : reports);
        int status = r.statusCode();
        if (status / 100 == 4 && status != 408 && status != 429) {
            throw new ReportRefused(status, "POST " + uri + " answered " + status + describeBody(r));
        }
        if (status / 100 != 2) {
            throw new IOException("POST " + uri + " answered " + status + describeBody(r));
        }
    }

    private HttpResponse<byte[]> post(URI uri, Object body) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri)
                .timeout(REQUEST_TIMEOUT)
                .header("Authorization", "Bearer " + joinToken)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(AgentJson.write(body)))
                .build();
        return http.send(req, HttpResponse.BodyHandlers.ofByteArray());
    }

    private static String describeBody(HttpResponse<byte[]> r) {
        String b = new String(r.body(), StandardCharsets.UTF_8).strip();
        return b.isEmpty() ? "" : ": " + (b.length() > 300 ? b.substring(0, 300) + "…" : b);
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
