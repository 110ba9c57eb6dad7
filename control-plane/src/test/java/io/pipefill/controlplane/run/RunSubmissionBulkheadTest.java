package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.WorkerRegistration;
import io.pipefill.model.create.ModelGenerator;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The bulkhead on run submission: with two runs in flight (held up by a worker agent that accepts
 * connections and never answers), the third submission gets 429 with a clear reason; when the stuck runs
 * fail on the agent-call timeout, their permits come back; a queued run's cancellation gives its permit back at once.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"pipefill.max-runs-in-flight=2", "pipefill.agent-call-timeout=1s", "pipefill.heartbeat-timeout=10m"})
@ActiveProfiles("test")
class RunSubmissionBulkheadTest {
    @LocalServerPort
    int port;
    @Autowired
    ModelRegistrar registrar;
    @Autowired
    DeploymentRepository deployments;
    @Autowired
    ClusterRepository cluster;

    @Test
    void aFullBulkheadAnswers429AndReleasesPermitsWhenRunsEnd() throws Exception {
        Path dir = Files.createTempDirectory("pipefill-bulkhead-").resolve("tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 2).write(dir);
        RegisteredModel model = registrar.register("tiny-bulkhead", dir.toString());
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            // a worker with an agent token, as registration records it: the control plane calls its (silent) agent
            Worker w = cluster.registerReplacing(new WorkerRegistration("node-silent", "127.0.0.1", 2, 1 << 30, List.of(), Map.of(),
                    "cpu", "http://127.0.0.1:" + silent.getLocalPort(), null), Instant.now(), null, "silent-agents-token", List.of())
                    .worker();
            Deployment d = deployments.insert(new Deployment(UUID.randomUUID(), "stuck", model.id(), 1, 1, List.of(model.layers()),
                    64, false, 0.75, 1024, 1, DeploymentState.READY, null, List.of(new Placement(0, 0, 0, w.id())), null, null));
            WebTestClient client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port)
                    .responseTimeout(Duration.ofSeconds(20)).defaultHeader("Authorization", "Bearer test-admin-token").build();
            Map<String, Object> body = Map.of("deployment", d.name(), "randomTokens", 16);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                ids.add(client.post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                        .expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody().get("id").toString());
            }
            client.post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                    .expectStatus().isEqualTo(429)
                    .expectBody(String.class).value(b -> assertThat(b).contains("run-submission"));
            // a deployment with runs in flight cannot be deleted under them
            client.delete().uri("/api/v1/deployments/stuck").exchange().expectStatus().isEqualTo(409)
                    .expectBody(String.class).value(b -> assertThat(b).contains("queued or running"));
            // the second run waits behind the stuck first: cancelling it frees its place at once
            client.post().uri("/api/v1/runs/" + ids.get(1) + "/cancel").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.state").isEqualTo("CANCELLED");
            client.post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                    .expectStatus().isCreated();
            // each stuck run fails after the agent calls time out (1 s × 3 attempts); then submissions are accepted again
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            int status;
            do {
                Thread.sleep(500);
                status = client.post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                        .returnResult(String.class).getStatus().value();
            } while (status == 429 && System.nanoTime() < deadline);
            assertThat(status).isEqualTo(201);
            String failed = client.get().uri("/api/v1/runs?deployment=stuck&state=FAILED").exchange().expectStatus().isOk()
                    .expectBody(String.class).returnResult().getResponseBody();
            assertThat(failed).contains("open run failed", "no answer in time");
        }
    }
}
