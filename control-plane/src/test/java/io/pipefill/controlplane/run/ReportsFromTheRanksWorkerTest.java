package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.controlplane.testing.FakeAgent;
import io.pipefill.model.agent.RegistrationAccepted;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * A run's reports are taken only from the worker placed at their rank (finding 3 of issue 23): with the join
 * token alone a forged result + done batch used to turn a RUNNING run SUCCEEDED with made-up tokens. The run
 * here is real (submitted through the API, opened and started on a fake agent over HTTP); only the ranks'
 * reports are posted by the test.
 */
class ReportsFromTheRanksWorkerTest extends ApiTestSupport {
    @Autowired
    DeploymentRepository deployments;

    private RegisteredModel model() throws Exception {
        return tinyModel("tiny-reports");
    }

    /** A whole run's reports from rank 0, as forged in the issue: chunking decision, result, timeline and done. */
    private static String wholeRun(String workerId, int firstSeq, int token) {
        String r = "{\"workerId\":\"" + workerId + "\",\"rank\":0,\"seq\":%d,\"report\":%s}";
        return "[" + String.join(",",
                r.formatted(firstSeq, "{\"type\":\"chunking\",\"dynamicRequested\":false,\"base\":64,\"sigma\":0,\"profileWallMs\":0}"),
                r.formatted(firstSeq + 1, "{\"type\":\"result\",\"request\":0,\"lastLogits\":[0.5],\"generated\":[" + token
                        + "],\"ttftMs\":0.0025,\"endMs\":0.003}"),
                r.formatted(firstSeq + 2, "{\"type\":\"timeline\",\"rank\":0,\"events\":[]}"),
                r.formatted(firstSeq + 3, "{\"type\":\"done\",\"rank\":0}")) + "]";
    }

    private WebTestClient.ResponseSpec postBatch(UUID runId, String bearer, String body) {
        return web.post().uri("/api/v1/agent/runs/{id}/reports/batch", runId).headers(h -> h.setBearerAuth(bearer))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private String state(UUID runId) {
        return adminGet("/api/v1/runs/{id}", runId).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody().get("state").toString();
    }

    @Test
    void onlyTheWorkerPlacedAtARankReportsForItAndTheAgentGetsOnlyItsOwnToken() throws Exception {
        String agentToken = "rank-zero-agent-token-0123456789abcdef";
        RegisteredModel model = model();
        ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
        try (FakeAgent agent = new FakeAgent(agentToken)) {
            RegistrationAccepted rank0 = register(registration(unique("rank0"), agent.url()), agentToken);
            RegistrationAccepted other = register(registration(unique("other"), "http://" + unique("other") + ":9100"));
            String name = unique("dep-reports");
            UUID deploymentId = UUID.randomUUID();
            deployments.insert(new Deployment(deploymentId, name, model.id(), 1, 1, List.of(model.layers()), 64, false,
                    0.75, 256, 1, DeploymentState.READY, null, List.of(new Placement(0, 0, 0, UUID.fromString(rank0.workerId()))),
                    null, null));
            // both workers stay alive as real ones would (the test profile loses a worker after 2 s of silence)
            beats.scheduleAtFixedRate(() -> {
                heartbeat(rank0.workerId(), Map.of("state", "READY", "deploymentId", deploymentId.toString()),
                        credential(rank0.workerId()));
                heartbeat(other.workerId(), "IDLE");
            }, 0, 200, TimeUnit.MILLISECONDS);
            UUID runId = UUID.fromString(adminPost("/api/v1/runs", Map.of("deployment", name, "randomTokens", 10))
                    .expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody().get("id").toString());
            await().atMost(Duration.ofSeconds(10)).until(() -> !agent.calls("/start").isEmpty() && state(runId).equals("RUNNING"));

            // forged with the join token: refused, the run goes on
            postBatch(runId, JOIN, wholeRun(rank0.workerId(), 100, 666))
                    .expectStatus().isForbidden()
                    .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("worker's own credential"));
            // forged by another registered worker, even naming the rank's worker in the body: refused, nothing applied
            postBatch(runId, credential(other.workerId()), wholeRun(rank0.workerId(), 100, 666))
                    .expectStatus().isForbidden()
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                            .contains("rank 0 of run " + runId + " is worker " + rank0.workerId())
                            .contains("worker " + other.workerId() + " may not report for it"));
            Thread.sleep(300);
            assertThat(state(runId)).isEqualTo("RUNNING");

            // the rank's own worker: taken, the run succeeds with its tokens
            postBatch(runId, credential(rank0.workerId()), wholeRun("whatever", 0, 7))
                    .expectStatus().isNoContent();
            await().atMost(Duration.ofSeconds(10)).until(() -> state(runId).equals("SUCCEEDED"));
            adminGet("/api/v1/runs/{id}", runId).exchange().expectBody()
                    .jsonPath("$.generated[0]").isEqualTo(7).jsonPath("$.firstToken").isEqualTo(7);

            // every call the control plane made to the agent carried that agent's own token, never the join token
            assertThat(agent.calls).isNotEmpty().allSatisfy(c -> assertThat(c.authorization()).isEqualTo("Bearer " + agentToken));
        } finally {
            beats.shutdownNow();
        }
    }
}
