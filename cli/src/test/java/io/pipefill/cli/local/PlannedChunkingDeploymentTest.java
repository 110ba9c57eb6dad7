package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.security.Tokens;
import io.pipefill.model.Architecture;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.plan.ChunkScheduleOptimizer;
import io.pipefill.model.plan.MeasuredChunkCosts;
import io.pipefill.model.sim.PipelineSimulator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code chunking: planned} deployments end to end: the control plane with its embedded PostgreSQL and two local
 * worker processes, a tiny generated model at PP = 2. A fixed-chunk deployment runs a prompt first (the reference);
 * then a planned deployment measures its chunk costs with a calibration run on its own workers, and one gets them
 * in the request. Each runs the same prompt: the run's chunk schedule must be what shared-model's optimiser gives
 * on the deployment's calibration (computed here from the curves the API shows, with the documented bounds and
 * seeds), and its logits and greedy tokens those of the fixed-chunk run. The OpenAI route runs on the planned
 * deployment through the same path.
 */
@SpringBootTest(classes = ControlPlaneApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"pipefill.peer-timeout=10s", "pipefill.agents.allow-loopback=true"})
@ActiveProfiles("test")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PlannedChunkingDeploymentTest {
    static final double TOLERANCE = 1e-4;
    static final String ADMIN = "test-admin-token";
    static final int PROMPT_TOKENS = 1000;
    static final int NEW_TOKENS = 4;
    static final int MAX_CHUNK = 256;

    @TempDir
    static Path tmp;
    static Path model;
    static int[] prompt;
    /** The fixed-chunk deployment's answer: last position's logits and the greedy tokens. */
    static List<Double> referenceLogits;
    static List<Integer> referenceTokens;

    @LocalServerPort
    int port;
    @Autowired
    Tokens tokens;
    @Autowired
    PipefillProperties props;
    static LocalWorkers localWorkers;

    @BeforeAll
    static void generateModel() throws Exception {
        model = tmp.resolve("tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 21).write(model);
        prompt = new SplittableRandom(9).ints(PROMPT_TOKENS, 0, 512).toArray();
    }

    @BeforeEach
    void launchWorkers() throws Exception {
        if (localWorkers == null) {
            localWorkers = LocalWorkers.launch(2, 1, port, tokens.join(), props.dataDir().resolve("logs"));
        }
    }

    @AfterAll
    static void stopWorkers() {
        if (localWorkers != null) {
            localWorkers.close();
        }
    }

    @Test
    @Order(1)
    void aFixedChunkDeploymentGivesTheReference() throws Exception {
        api().awaitIdleWorkers(2, Duration.ofSeconds(60));
        api().post("/api/v1/models", Map.of("name", "tiny-planned", "location", model.toString()));
        deployAndAwaitReady(Map.of("name", "tiny-fixed", "model", "tiny-planned", "pp", 2, "chunkSize", 64,
                "maxTokens", 4096));
        Map<String, Object> deployment = api().get("/api/v1/deployments/tiny-fixed");
        assertThat(deployment.get("chunking")).as("an old-style request is fixed chunking").isEqualTo("fixed");
        assertThat(deployment.get("calibration")).isNull();
        Map<String, Object> run = runPrompt("tiny-fixed");
        assertThat(schedule(run)).startsWith(64, 64).hasSize((PROMPT_TOKENS + 63) / 64);
        referenceLogits = logits((String) run.get("id"));
        referenceTokens = generated(run);
        deleteAndAwaitIdle("tiny-fixed");
    }

    @Test
    @Order(2)
    @SuppressWarnings("unchecked")
    void aPlannedDeploymentMeasuresItsChunkCostsAndRunsTheOptimisersSchedule() throws Exception {
        Map<String, Object> created = api().post("/api/v1/deployments", Map.of("name", "tiny-measured", "model", "tiny-planned",
                "pp", 2, "chunking", "planned", "chunkSize", MAX_CHUNK, "maxTokens", 4096));
        assertThat(created.get("chunking")).isEqualTo("planned");
        assertThat(created.get("calibration")).as("measured once the shards are loaded").isNull();
        Map<String, Object> ready = api().await("/api/v1/deployments/tiny-measured",
                m -> "READY".equals(m.get("state")) || "FAILED".equals(m.get("state")), Duration.ofSeconds(240));
        assertThat(ready.get("state")).as("%s", ready.get("stateReason")).isEqualTo("READY");

        Map<String, Object> calibration = (Map<String, Object>) ready.get("calibration");
        assertThat(calibration.get("source")).isEqualTo("measured");
        assertThat((String) calibration.get("summary")).contains("stage 0:", "stage 1:", "rms error");
        assertThat((List<?>) calibration.get("stageCoefficients")).hasSize(2);
        // the calibration run is a recorded run of the deployment: 4095 tokens in chunks of 64, 128, 256, 64, …
        Map<String, Object> calRun = api().get("/api/v1/runs/" + calibration.get("runId"));
        assertThat(calRun.get("state")).isEqualTo("SUCCEEDED");
        assertThat(calRun.get("promptTokens")).isEqualTo(4095);
        assertThat(schedule(calRun)).startsWith(64, 128, 256, 64, 128, 256).isEqualTo(calibration.get("calibrationChunks"));

        Map<String, Object> run = runPrompt("tiny-measured");
        assertThat(schedule(run)).as("the optimiser's schedule on the measured curves")
                .isEqualTo(optimised(calibration, PROMPT_TOKENS).sizes());
        assertSameAnswerAsFixedChunks(run);
        deleteAndAwaitIdle("tiny-measured");
    }

    @Test
    @Order(3)
    @SuppressWarnings("unchecked")
    void aPlannedDeploymentWithAGivenCalibrationRunsTheOptimisersScheduleAlsoForOpenAiRequests() throws Exception {
        // attention over the prefix dominates: late chunks cost more, so the schedule is not one fixed size
        Map<String, Object> given = Map.of("stageCoefficients", List.of(List.of(1.0, 0.01, 2e-5, 0.0),
                List.of(1.2, 0.01, 2e-5, 0.0)), "sendFixedMs", 0.05, "sendPerTokenMs", 1e-4);
        Map<String, Object> ready = deployAndAwaitReady(Map.of("name", "tiny-given", "model", "tiny-planned", "pp", 2,
                "chunking", "planned", "chunkSize", MAX_CHUNK, "maxTokens", 4096, "calibration", given));
        Map<String, Object> calibration = (Map<String, Object>) ready.get("calibration");
        assertThat(calibration.get("source")).isEqualTo("request");
        assertThat(calibration.get("stageCoefficients")).isEqualTo(given.get("stageCoefficients"));
        assertThat(calibration.get("runId")).isNull();

        Map<String, Object> run = runPrompt("tiny-given");
        ChunkSchedule expected = optimised(calibration, PROMPT_TOKENS);
        assertThat(schedule(run)).isEqualTo(expected.sizes());
        assertThat(expected.sizes().stream().distinct().count()).as("an uneven schedule: %s", expected.sizes())
                .isGreaterThan(1);
        assertSameAnswerAsFixedChunks(run);

        // the OpenAI route submits through the same runs: a completion on the planned deployment runs its schedule
        String key = (String) api().post("/api/v1/api-keys", Map.of("name", "planned-test")).get("key");
        Map<String, Object> completion = JsonMapper.builder().build().readValue(WebTestClient.bindToServer()
                .baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(120)).build().post()
                .uri("/v1/completions").header("Authorization", "Bearer " + key).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("model", "tiny-given", "prompt", "planned chunks over a pipeline of two stages",
                        "max_tokens", 3, "temperature", 0))
                .exchange().expectStatus().isOk().expectBody().returnResult().getResponseBody(), Map.class);
        assertThat((List<?>) completion.get("choices")).hasSize(1);
        Map<String, Object> latest = api().list("/api/v1/runs?deployment=tiny-given&state=SUCCEEDED").stream()
                .filter(r -> !r.get("id").equals(run.get("id"))).findFirst().orElseThrow();
        assertThat(schedule(latest)).isEqualTo(optimised(calibration, (Integer) latest.get("promptTokens")).sizes());
        deleteAndAwaitIdle("tiny-given");
    }

    /**
     * The optimiser on the curves the deployment's API shows, as README documents planned chunking: chunks of 64 …
     * chunkSize (multiples of 64, the last any remainder), seeded with the fixed schedules of 64, 128, … chunkSize.
     */
    @SuppressWarnings("unchecked")
    private static ChunkSchedule optimised(Map<String, Object> calibration, int promptTokens) {
        List<List<Number>> coef = (List<List<Number>>) calibration.get("stageCoefficients");
        double[][] c = new double[coef.size()][];
        for (int s = 0; s < c.length; s++) {
            c[s] = coef.get(s).stream().mapToDouble(Number::doubleValue).toArray();
        }
        MeasuredChunkCosts costs = new MeasuredChunkCosts(c, ((Number) calibration.get("sendFixedMs")).doubleValue(),
                ((Number) calibration.get("sendPerTokenMs")).doubleValue(), 0);
        Map<String, ChunkSchedule> seeds = new LinkedHashMap<>();
        for (int size : new int[] {64, 128, 256}) {
            seeds.put("fixed " + size, ChunkSchedule.fixed(promptTokens, size));
        }
        return new ChunkScheduleOptimizer(PipelineSimulator.engine(c.length, costs.latency(), costs.link(), 0))
                .optimise(promptTokens, new ChunkScheduleOptimizer.Bounds(64, 64, MAX_CHUNK), seeds).schedule();
    }

    private void assertSameAnswerAsFixedChunks(Map<String, Object> run) {
        List<Double> logits = logits((String) run.get("id"));
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < referenceLogits.size(); i++) {
            maxDiff = Math.max(maxDiff, Math.abs(logits.get(i) - referenceLogits.get(i)));
            maxRef = Math.max(maxRef, Math.abs(referenceLogits.get(i)));
        }
        assertThat(logits).hasSameSizeAs(referenceLogits);
        assertThat(maxDiff / maxRef).as("relative error against the fixed-chunk deployment's logits").isLessThanOrEqualTo(TOLERANCE);
        assertThat(generated(run)).isEqualTo(referenceTokens);
    }

    private Map<String, Object> runPrompt(String deployment) throws InterruptedException {
        Map<String, Object> submitted = api().post("/api/v1/runs", Map.of("deployment", deployment,
                "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", NEW_TOKENS));
        Map<String, Object> run = api().await("/api/v1/runs/" + submitted.get("id"),
                m -> !"QUEUED".equals(m.get("state")) && !"RUNNING".equals(m.get("state")), Duration.ofSeconds(120));
        assertThat(run.get("state")).as("run on %s: %s", deployment, run.get("error")).isEqualTo("SUCCEEDED");
        return run;
    }

    @SuppressWarnings("unchecked")
    private static List<Integer> schedule(Map<String, Object> run) {
        return (List<Integer>) run.get("chunkSchedule");
    }

    @SuppressWarnings("unchecked")
    private static List<Integer> generated(Map<String, Object> run) {
        return (List<Integer>) run.get("generated");
    }

    private List<Double> logits(String runId) {
        return api().client().get().uri("/api/v1/runs/" + runId + "/logits").exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<List<Double>>() { }).returnResult().getResponseBody();
    }

    private Map<String, Object> deployAndAwaitReady(Map<String, Object> body) throws InterruptedException {
        String name = (String) body.get("name");
        api().post("/api/v1/deployments", body);
        Map<String, Object> d = api().await("/api/v1/deployments/" + name,
                m -> "READY".equals(m.get("state")) || "FAILED".equals(m.get("state")), Duration.ofSeconds(120));
        assertThat(d.get("state")).as("%s: %s", name, d.get("stateReason")).isEqualTo("READY");
        return d;
    }

    private void deleteAndAwaitIdle(String name) throws InterruptedException {
        api().client().delete().uri("/api/v1/deployments/" + name).exchange().expectStatus().isNoContent();
        api().awaitIdleWorkers(2, Duration.ofSeconds(60));
    }

    private AdminApi api() {
        return new AdminApi(port, ADMIN);
    }
}
