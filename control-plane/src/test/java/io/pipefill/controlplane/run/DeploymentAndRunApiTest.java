package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.ModelRepository;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The deployment and run routes' answers to bad input, missing records, wrong states and missing or wrong
 * tokens. (Successful deployments and runs on real workers are the whole-system test's.)
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ActiveProfiles("test")
class DeploymentAndRunApiTest {
    @LocalServerPort
    int port;
    @Autowired
    ModelRegistrar registrar;
    @Autowired
    ModelRepository models;
    @Autowired
    DeploymentRepository deployments;
    @Autowired
    ClusterRepository cluster;
    @Autowired
    RunRepository runs;

    RegisteredModel model;

    @BeforeEach
    void tinyModel() throws Exception {
        model = models.byName("tiny-api").orElse(null);
        if (model == null) {
            Path dir = Files.createTempDirectory("pipefill-api-test-").resolve("tiny");
            new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 2).write(dir);
            model = registrar.register("tiny-api", dir.toString());
        }
    }

    private WebTestClient client(String token) {
        WebTestClient.Builder b = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(20));
        return token == null ? b.build() : b.defaultHeader("Authorization", "Bearer " + token).build();
    }

    private WebTestClient admin() {
        return client("test-admin-token");
    }

    private void expectProblem(WebTestClient.RequestHeadersSpec<?> request, int status, String... detailParts) {
        request.exchange().expectStatus().isEqualTo(status)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(String.class).value(body -> {
                    for (String part : detailParts) {
                        assertThat(body).contains(part);
                    }
                });
    }

    private WebTestClient.RequestHeadersSpec<?> postDeployment(Map<String, ?> body) {
        return admin().post().uri("/api/v1/deployments").contentType(MediaType.APPLICATION_JSON).bodyValue(body);
    }

    private WebTestClient.RequestHeadersSpec<?> postRun(Map<String, ?> body) {
        return admin().post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue(body);
    }

    /** A deployment recorded directly in a given state, on a registered worker whose agent is unreachable. */
    private Deployment recorded(String name, DeploymentState state, int maxTokens) {
        Worker w = cluster.register(new WorkerRegistration("node-" + name, "127.0.0.1", 2, 1 << 30, List.of(), Map.of(), "cpu",
                "http://127.0.0.1:9/" + name, null), Instant.now());
        return deployments.insert(new Deployment(UUID.randomUUID(), name, model.id(), 1, 1, List.of(model.layers()), 64, false,
                0.75, maxTokens, 1, state, null, List.of(new Placement(0, 0, 0, w.id())), null, null));
    }

    @Test
    void deploymentValidationNamesTheField() {
        expectProblem(postDeployment(Map.of("model", "tiny-api")), 400, "name");
        expectProblem(postDeployment(Map.of("name", "Bad Name!", "model", "tiny-api")), 400, "name", "a-z");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "pp", 0)), 400, "pp");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "tp", 100)), 400, "tp");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "sigma", 2.0)), 400, "sigma");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "backend", "tpu")), 400, "backend", "cpu or cuda");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "chunkSize", 0)), 400, "chunkSize");
        // layouts the model cannot take
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "tp", 3)), 400, "tp 3 must divide");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "pp", 2, "layersPerStage", List.of(1, 1))), 400,
                "layer");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "maxTokens", 1 << 20)), 400, "maxTokens",
                "8192");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "no-such-model")), 404, "no-such-model");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "workers", List.of(UUID.randomUUID(), UUID.randomUUID()))),
                400, "workers", "exactly 1");
        expectProblem(postDeployment(Map.of("name", "d1", "model", "tiny-api", "pp", 4, "backend", "cuda")), 409,
                "cannot place PP 4", "needs 4 free workers");
        admin().post().uri("/api/v1/deployments").contentType(MediaType.APPLICATION_JSON).bodyValue("{not json")
                .exchange().expectStatus().isBadRequest();
    }

    @Test
    void plannedChunkingValidationNamesTheFieldAndWhatIsAllowed() {
        Map<String, Object> calibration = Map.of("stageCoefficients", List.of(List.of(1.0, 0.01, 1e-6, 0.0)));
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "greedy")), 400,
                "chunking", "fixed, dynamic or planned");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned", "sigma", 0.5)), 400,
                "sigma", "dynamic chunks only");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned", "dynamicChunking", true)),
                400, "dynamicChunking", "chooses every chunk itself");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned", "chunkSize", 100)), 400,
                "chunkSize", "largest planned chunk", "multiple of 64");
        // measured without a calibration, chunks of 64 and 128 alone cannot fit a quadratic in the chunk length
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned", "chunkSize", 128)), 400,
                "chunkSize", "at least three sizes", "at least 256");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "fixed", "dynamicChunking", true)),
                400, "dynamicChunking", "contradicts chunking fixed");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "calibration", calibration)), 400,
                "calibration", "only chunking planned");
        // a calibration prompt of maxTokens − 1 = 199 tokens holds 3 chunks of 64, 128, …: too few for a fit
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned", "maxTokens", 200)), 400,
                "maxTokens", "at least 8 chunks", "give a calibration");
        // calibrations that cannot be one
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "pp", 2, "chunking", "planned",
                "calibration", calibration)), 400, "calibration.stageCoefficients", "pp 2 needs exactly 2");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned",
                "calibration", Map.of("stageCoefficients", List.of(List.of(1.0, 0.01, 1e-6))))), 400,
                "calibration.stageCoefficients", "exactly 4 coefficients");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned",
                "calibration", Map.of("stageCoefficients", List.of(List.of(-5.0, 0.001, 0.0, 0.0))))), 400,
                "calibration.stageCoefficients[0]", "-4.999 ms for a chunk of 1 tokens", "must be positive");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned",
                "calibration", Map.of("stageCoefficients", List.of(List.of(1.0, 0.01, 0.0, -1e-4))))), 400,
                "calibration.stageCoefficients[0]", "for a chunk of 2048 tokens");
        expectProblem(postDeployment(Map.of("name", "p1", "model", "tiny-api", "chunking", "planned",
                "calibration", Map.of("stageCoefficients", List.of(List.of(1.0, 0.01, 0.0, 0.0)), "sendFixedMs", -1))), 400,
                "calibration.sendFixedMs");
    }

    @Test
    void aPlannedDeploymentShowsItsChunkingAndCalibration() {
        Worker w = cluster.register(new WorkerRegistration("node-planned", "127.0.0.1", 2, 1 << 30, List.of(), Map.of(), "cpu",
                "http://127.0.0.1:9/planned", null), Instant.now());
        Map<String, Object> calibration = Map.of("stageCoefficients", List.of(List.of(1.5, 0.01, 2e-6, 1e-7)),
                "sendFixedMs", 0.1);
        admin().post().uri("/api/v1/deployments").contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", "planned-shown",
                        "model", "tiny-api", "chunking", "planned", "chunkSize", 512, "calibration", calibration,
                        "workers", List.of(w.id())))
                .exchange().expectStatus().isCreated().expectBody()
                .jsonPath("$.chunking").isEqualTo("planned")
                .jsonPath("$.chunkSize").isEqualTo(512)
                .jsonPath("$.dynamicChunking").isEqualTo(false)
                .jsonPath("$.calibration.source").isEqualTo("request")
                .jsonPath("$.calibration.stageCoefficients[0][3]").isEqualTo(1e-7)
                .jsonPath("$.calibration.sendFixedMs").isEqualTo(0.1)
                .jsonPath("$.calibration.sendPerTokenMs").isEqualTo(0.0)
                .jsonPath("$.calibration.summary").value(v -> assertThat((String) v).startsWith("stage 0: 1.50 + 0.0100·n"));
        // read back from the database, and older deployments are fixed or dynamic
        Deployment stored = deployments.byName("planned-shown").orElseThrow();
        assertThat(stored.planned()).isTrue();
        assertThat(stored.calibration().costs().latency().ms(0, 100, 64)).isEqualTo(1.5 + 0.64 + 2e-6 * 6400 + 1e-7 * 4096);
        assertThat(recorded("plain-fixed", DeploymentState.READY, 1024).chunking()).isEqualTo("fixed");
    }

    @Test
    void deploymentLookupsAndDeletion() {
        Deployment d = recorded("dep-lookup", DeploymentState.READY, 1024);
        admin().get().uri("/api/v1/deployments/dep-lookup").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(d.id().toString()).jsonPath("$.placements.length()").isEqualTo(1);
        admin().get().uri("/api/v1/deployments/" + d.id()).exchange().expectStatus().isOk();
        admin().get().uri("/api/v1/deployments").exchange().expectStatus().isOk()
                .expectBody(String.class).value(b -> assertThat(b).contains("dep-lookup"));
        expectProblem(admin().get().uri("/api/v1/deployments/nope"), 404, "deployment nope not found");
        expectProblem(postDeployment(Map.of("name", "dep-lookup", "model", "tiny-api")), 409, "already exists");
        admin().delete().uri("/api/v1/deployments/dep-lookup").exchange().expectStatus().isNoContent();
        admin().get().uri("/api/v1/deployments/dep-lookup").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.state").isEqualTo("DELETED");
        expectProblem(admin().delete().uri("/api/v1/deployments/dep-lookup"), 409, "already deleted");
        expectProblem(admin().delete().uri("/api/v1/deployments/" + UUID.randomUUID()), 404, "not found");
    }

    @Test
    void runValidationNamesTheField() {
        recorded("dep-ready", DeploymentState.READY, 100);
        recorded("dep-loading", DeploymentState.LOADING, 100);
        expectProblem(postRun(Map.of("randomTokens", 10)), 400, "deployment");
        expectProblem(postRun(Map.of("deployment", "nope", "randomTokens", 10)), 404, "deployment nope not found");
        expectProblem(postRun(Map.of("deployment", "dep-loading", "randomTokens", 10)), 409, "LOADING", "READY");
        expectProblem(postRun(Map.of("deployment", "dep-ready")), 400, "exactly one of text, tokenIds or randomTokens");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "randomTokens", 10, "tokenIds", List.of(1))), 400, "exactly one");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "randomTokens", 0)), 400, "randomTokens");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "tokenIds", List.of(1, 512))), 400, "tokenIds[1]", "0..511");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "tokenIds", List.of())), 400, "tokenIds", "empty");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "text", "")), 400, "text", "empty");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "randomTokens", 10, "maxNewTokens", 0)), 400, "maxNewTokens");
        expectProblem(postRun(Map.of("deployment", "dep-ready", "randomTokens", 95, "maxNewTokens", 10)), 400,
                "104 KV positions", "maxTokens = 100");
    }

    @Test
    void runLookups() {
        expectProblem(admin().get().uri("/api/v1/runs/" + UUID.randomUUID()), 404, "not found");
        expectProblem(admin().get().uri("/api/v1/runs/not-a-uuid"), 400);
        expectProblem(admin().get().uri("/api/v1/runs?limit=0"), 400, "limit");
        expectProblem(admin().get().uri("/api/v1/runs?state=BOGUS"), 400);
        expectProblem(admin().get().uri("/api/v1/runs?deployment=nope"), 404);
        expectProblem(admin().get().uri("/api/v1/runs/" + UUID.randomUUID() + "/logits"), 404);
        admin().get().uri("/api/v1/runs?state=SUCCEEDED&limit=5").exchange().expectStatus().isOk();
    }

    @Test
    void aQueuedRunIsCancelledAtOnceAndAFinishedOneCannotBe() {
        Deployment d = recorded("dep-cancel", DeploymentState.READY, 100);
        // recorded straight into the table: no executor will pick it up, so it stays QUEUED until cancelled
        Run queued = runs.insert(UUID.randomUUID(), d.id(), PromptKind.RANDOM, 10, 1);
        String cancel = "/api/v1/runs/" + queued.id() + "/cancel";
        client(null).post().uri(cancel).exchange().expectStatus().isUnauthorized();
        client("test-join-token").post().uri(cancel).exchange().expectStatus().isForbidden();

        admin().post().uri(cancel).exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.state").isEqualTo("CANCELLED")
                .jsonPath("$.error").isEqualTo("cancelled while QUEUED")
                .jsonPath("$.progress").doesNotExist()
                .jsonPath("$.finishedAt").isNotEmpty();
        // again: nothing changes
        admin().post().uri(cancel).exchange().expectStatus().isOk().expectBody().jsonPath("$.state").isEqualTo("CANCELLED");
        admin().get().uri("/api/v1/runs?deployment=dep-cancel&state=CANCELLED").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[0].id").isEqualTo(queued.id().toString());
        // its event stream ends at the cancellation
        List<String> kinds = admin().get().uri("/api/v1/runs/" + queued.id() + "/events").accept(MediaType.TEXT_EVENT_STREAM)
                .exchange().expectStatus().isOk().returnResult(String.class).getResponseBody().collectList()
                .block(Duration.ofSeconds(10));
        assertThat(String.join("\n", kinds)).contains("\"state\":\"QUEUED\"").endsWith("\"state\":\"CANCELLED\"}}");
        client(null).get().uri("/actuator/prometheus").exchange().expectStatus().isOk().expectBody(String.class)
                .value(b -> assertThat(b).contains("pipefill_runs_total{deployment=\"dep-cancel\",outcome=\"cancelled\"} 1.0"));
        // the deployment's runs are all finished now, so it may be deleted
        admin().delete().uri("/api/v1/deployments/dep-cancel").exchange().expectStatus().isNoContent();

        Run failed = runs.insert(UUID.randomUUID(), d.id(), PromptKind.RANDOM, 10, 1);
        runs.failed(failed.id(), "worker gone");
        expectProblem(admin().post().uri("/api/v1/runs/" + failed.id() + "/cancel"), 409, "is FAILED",
                "only QUEUED or RUNNING runs can be cancelled");
        expectProblem(admin().post().uri("/api/v1/runs/" + UUID.randomUUID() + "/cancel"), 404, "not found");
        expectProblem(admin().post().uri("/api/v1/runs/not-a-uuid/cancel"), 400);
    }

    @Test
    void aDeploymentWithUnfinishedRunsIsNotDeletedAndTheAnswerSaysHowToCancelThem() {
        Deployment d = recorded("dep-busy", DeploymentState.READY, 100);
        Run queued = runs.insert(UUID.randomUUID(), d.id(), PromptKind.RANDOM, 10, 1);
        expectProblem(admin().delete().uri("/api/v1/deployments/dep-busy"), 409, "1 queued or running run(s)",
                "POST /api/v1/runs/{id}/cancel");
        admin().post().uri("/api/v1/runs/" + queued.id() + "/cancel").exchange().expectStatus().isOk();
        admin().delete().uri("/api/v1/deployments/dep-busy").exchange().expectStatus().isNoContent();
    }

    /** A worker's credential, as a registration issues it. */
    private String registeredWorkersCredential() {
        return client("test-join-token").post().uri("/api/v1/agent/workers").header("Pipefill-Agent-Token", "a".repeat(40))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(new WorkerRegistration("node-reports-" + UUID.randomUUID(),
                        "10.0.0.1", 1, 1, List.of(), Map.of(), "cpu", "http://reports-" + UUID.randomUUID() + ":9100", null))
                .exchange().expectStatus().isCreated().returnResult(String.class).getResponseHeaders()
                .getFirst("Pipefill-Worker-Credential");
    }

    @Test
    void agentReportsNeedAWorkersCredentialAndARunningRun() {
        String report = "{\"workerId\":\"w\",\"rank\":0,\"seq\":0,\"report\":{\"type\":\"done\",\"rank\":0}}";
        String path = "/api/v1/agent/runs/" + UUID.randomUUID() + "/reports";
        String worker = registeredWorkersCredential();
        client(null).post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(report).exchange().expectStatus().isUnauthorized();
        admin().post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(report).exchange().expectStatus().isForbidden();
        // the join token only admits a registration
        client("test-join-token").post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(report).exchange()
                .expectStatus().isForbidden();
        expectProblem(client(worker).post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(report), 404, "not found");
        expectProblem(client(worker).post().uri(path).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"rank\":0,\"seq\":0}"), 400, "report: missing");
        expectProblem(client(worker).post().uri(path).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"rank\":0,\"seq\":0,\"report\":{\"type\":\"finished\"}}"), 400,
                "field 'report': type 'finished' is not known; one of loaded, chunking, progress, token, result, timeline, done, error");
        String batch = path + "/batch";
        admin().post().uri(batch).contentType(MediaType.APPLICATION_JSON).bodyValue("[" + report + "]").exchange()
                .expectStatus().isForbidden();
        client("test-join-token").post().uri(batch).contentType(MediaType.APPLICATION_JSON).bodyValue("[" + report + "]").exchange()
                .expectStatus().isForbidden();
        expectProblem(client(worker).post().uri(batch).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("[" + report + ",{\"rank\":0,\"seq\":1}]"), 400, "[1].report: missing");
        expectProblem(client(worker).post().uri(batch).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("[" + report + "]"), 404, "not found");
    }

    @Test
    void kubernetesViewSaysDisabledOutsideACluster() {
        admin().get().uri("/api/v1/kubernetes").exchange().expectStatus().isOk().expectBody().jsonPath("$.enabled").isEqualTo(false);
        client(null).get().uri("/api/v1/kubernetes").exchange().expectStatus().isUnauthorized();
    }

    @Test
    void everyRouteNeedsTheAdminToken() {
        for (String path : List.of("/api/v1/deployments", "/api/v1/runs", "/api/v1/runs/" + UUID.randomUUID(),
                "/api/v1/runs/" + UUID.randomUUID() + "/events")) {
            client(null).get().uri(path).exchange().expectStatus().isUnauthorized();
            client("wrong").get().uri(path).exchange().expectStatus().isUnauthorized();
            client("test-join-token").get().uri(path).exchange().expectStatus().isForbidden();
        }
        client(null).post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isUnauthorized();
        client("test-join-token").delete().uri("/api/v1/deployments/x").exchange().expectStatus().isForbidden();
    }
}
