package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.security.Tokens;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.StageShard;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.worker.launch.SingleProcessPrefill;
import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import io.pipefill.tokenizer.PromptTokenizer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
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
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The whole system on one machine: the control plane with its embedded PostgreSQL, two local worker
 * processes that register over HTTP, a PP = 2 deployment of a generated model, runs submitted through the
 * REST API. The run's logits and tokens must equal the single-process engine's; cancelled runs stop and the
 * next run is exact; then a worker is killed mid-run and the run must fail naming it while the control plane
 * stays healthy.
 */
@SpringBootTest(classes = ControlPlaneApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        // the local workers listen on 127.0.0.1, as under `pipefill up` (which sets allow-loopback the same way)
        properties = {"pipefill.peer-timeout=10s", "pipefill.agents.allow-loopback=true"})
@ActiveProfiles("test")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WholeSystemTest {
    static final double TOLERANCE = 1e-4;
    static final String ADMIN = "test-admin-token";
    static final int VOCAB = 32000;

    @TempDir
    static Path tmp;
    static Path model;

    @LocalServerPort
    int port;
    @Autowired
    Tokens tokens;
    @Autowired
    PipefillProperties props;
    /** The two local workers, launched once the control plane listens, as `pipefill up` does. */
    static LocalWorkers localWorkers;

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

    @BeforeAll
    static void generateModel() throws Exception {
        model = tmp.resolve("tiny");
        // the tiny shape with a 32K vocabulary: the result report then carries ~400 KB of logits as JSON
        ModelConfig t = ModelPreset.fromCliName("tiny").config(Architecture.LLAMA);
        ModelConfig c = new ModelConfig(t.architecture(), VOCAB, t.hiddenSize(), t.intermediateSize(), t.numLayers(),
                t.numHeads(), t.numKvHeads(), t.headDim(), t.maxPositionEmbeddings(), t.ropeTheta(), t.ropeScaling(),
                t.rmsNormEps(), t.tieWordEmbeddings(), t.attentionBias(), t.torchDtype());
        new ModelGenerator(c, 11).write(model);
    }

    private AdminApi api() {
        return new AdminApi(port, ADMIN);
    }

    private static PrefillResult singleProcess(int[] tokens, int maxNewTokens) {
        return singleProcess(model, tokens, maxNewTokens);
    }

    private static PrefillResult singleProcess(Path model, int[] tokens, int maxNewTokens) {
        ModelDirectory md = ModelDirectory.open(model);
        PrefillRequest req = new PrefillRequest(tokens, tokens.length, maxNewTokens);
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, req.kvPositions())) {
            return new SingleProcessPrefill(md.config(), stage).run(req, ProgressListener.NONE);
        }
    }

    /** max |Δ| / max |reference| over the vocabulary. */
    private static double relativeError(List<Double> logits, float[] reference) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(logits.get(i) - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        return maxDiff / maxRef;
    }

    private String deploy() throws InterruptedException {
        // both local workers register and report in
        api().awaitIdleWorkers(2, Duration.ofSeconds(60));
        api().post("/api/v1/models", Map.of("name", "tiny-e2e", "location", model.toString()));
        Map<String, Object> d = api().post("/api/v1/deployments", Map.of("name", "tiny-pp2", "model", "tiny-e2e", "pp", 2,
                "chunkSize", 64, "maxTokens", 8192));
        assertThat(d.get("state")).isEqualTo("LOADING");
        assertThat((List<?>) d.get("placements")).hasSize(2);
        api().await("/api/v1/deployments/tiny-pp2", m -> "READY".equals(m.get("state")), Duration.ofSeconds(60));
        return (String) d.get("id");
    }

    @Test
    @Order(1)
    @SuppressWarnings("unchecked")
    void aRunThroughTheApiEqualsTheSingleProcessEngineAndIsRecorded() throws Exception {
        deploy();
        int[] prompt = new SplittableRandom(5).ints(300, 0, VOCAB).toArray();
        Map<String, Object> submitted = api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2",
                "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", 5));
        String id = (String) submitted.get("id");
        Map<String, Object> run = api().await("/api/v1/runs/" + id, m -> !"QUEUED".equals(m.get("state")) && !"RUNNING".equals(m.get("state")),
                Duration.ofSeconds(60));
        assertThat(run.get("state")).as("run %s: %s", id, run.get("error")).isEqualTo("SUCCEEDED");

        PrefillResult ref = singleProcess(prompt, 5);
        List<Double> logits = api().client().get().uri("/api/v1/runs/" + id + "/logits").exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<List<Double>>() { }).returnResult().getResponseBody();
        assertThat(relativeError(logits, ref.lastLogits())).as("relative error of the last position's logits")
                .isLessThanOrEqualTo(TOLERANCE);
        assertThat((List<Integer>) run.get("generated")).containsExactlyElementsOf(Arrays.stream(ref.generated()).boxed().toList());
        assertThat(run.get("firstToken")).isEqualTo(ref.generated()[0]);

        // the record: chunk schedule, TTFT, throughput and both stages' timelines
        assertThat(((List<Integer>) run.get("chunkSchedule")).stream().mapToInt(Integer::intValue).sum()).isEqualTo(300);
        assertThat((List<Integer>) run.get("chunkSchedule")).startsWith(64, 64);
        assertThat((Double) run.get("ttftMs")).isPositive();
        assertThat((Double) run.get("tokensPerSecond")).isPositive();
        assertThat((Map<String, Object>) run.get("progress")).as("every chunk through the last stage")
                .isEqualTo(Map.of("chunksDone", 5, "chunks", 5, "tokensDone", 300, "promptTokens", 300));
        List<Map<String, Object>> timeline = (List<Map<String, Object>>) run.get("timeline");
        assertThat(timeline).extracting(e -> e.get("stage")).contains(0, 1);
        assertThat(api().list("/api/v1/runs?deployment=tiny-pp2&state=SUCCEEDED")).extracting(r -> r.get("id")).contains(id);

        // the event stream replays the run from the database: every chunk's progress, then SUCCEEDED
        List<ServerSentEvent<Map<String, Object>>> events = api().client().get().uri("/api/v1/runs/" + id + "/events")
                .accept(MediaType.TEXT_EVENT_STREAM).exchange().expectStatus().isOk()
                .returnResult(new ParameterizedTypeReference<ServerSentEvent<Map<String, Object>>>() { })
                .getResponseBody().collectList().block(Duration.ofSeconds(20));
        assertThat(events).extracting(ServerSentEvent::event).contains("PROGRESS", "STAGE");
        assertThat(events.stream().filter(e -> "PROGRESS".equals(e.event())).count()).isEqualTo(5); // 300 = 4 × 64 + 44
        ServerSentEvent<Map<String, Object>> last = events.get(events.size() - 1);
        assertThat(last.event()).isEqualTo("STATE");
        assertThat(((Map<String, Object>) last.data().get("detail")).get("state")).isEqualTo("SUCCEEDED");
        // every rank's reports are recorded before the final state, where the stream stops: none is missed
        assertThat(events).filteredOn(e -> "STAGE".equals(e.event()))
                .extracting(e -> ((Map<String, Object>) e.data().get("detail")).get("type") + "@"
                        + ((Map<String, Object>) e.data().get("detail")).get("rank"))
                .contains("result@1", "done@0", "done@1");
    }

    @Test
    @Order(2)
    @SuppressWarnings("unchecked")
    void aTextPromptIsTokenizedWithTheModelsTokenizer() throws Exception {
        String text = "Chunked pipeline prefill streams a long prompt through every stage at once.";
        Map<String, Object> submitted = api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "text", text, "maxNewTokens", 3));
        Map<String, Object> run = api().await("/api/v1/runs/" + submitted.get("id"),
                m -> "SUCCEEDED".equals(m.get("state")) || "FAILED".equals(m.get("state")), Duration.ofSeconds(60));
        assertThat(run.get("state")).as("%s", run.get("error")).isEqualTo("SUCCEEDED");
        assertThat(run.get("promptKind")).isEqualTo("TEXT");
        int[] ids;
        try (PromptTokenizer tok = PromptTokenizer.open(model.resolve("tokenizer.json"))) {
            ids = tok.encode(text);
        }
        assertThat(run.get("promptTokens")).isEqualTo(ids.length);
        assertThat((List<Integer>) run.get("generated"))
                .containsExactlyElementsOf(Arrays.stream(singleProcess(ids, 3).generated()).boxed().toList());
    }

    /** Waits until the run has reported progress, asserting that it has not ended meanwhile. */
    private void awaitProgress(String id, String why) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Map<String, Object> run = api().get("/api/v1/runs/" + id);
            assertThat(run.get("state")).as(why).isIn("QUEUED", "RUNNING");
            boolean progressing = api().client().get().uri("/api/v1/runs/" + id + "/events").accept(MediaType.TEXT_EVENT_STREAM)
                    .exchange().returnResult(String.class).getResponseBody().take(Duration.ofMillis(300))
                    .any(s -> s.contains("PROGRESS") || s.contains("\"chunk\"")).block();
            if (progressing) {
                return;
            }
            assertThat(System.nanoTime()).isLessThan(deadline);
        }
    }

    @Test
    @Order(3)
    @SuppressWarnings("unchecked")
    void cancelledRunsStopAndTheRunQueuedBehindThemIsExact() throws Exception {
        String running = (String) api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 6000, "seed", 4,
                "maxNewTokens", 2000)).get("id");
        String queued = (String) api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 50)).get("id");
        int[] prompt = new SplittableRandom(6).ints(200, 0, VOCAB).toArray();
        String next = (String) api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2",
                "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", 4)).get("id");

        // a queued run ends at once; the workers never see it
        Map<String, Object> c = api().expect(api().client().post().uri("/api/v1/runs/" + queued + "/cancel").exchange(), 200, Map.class);
        assertThat(c.get("state")).isEqualTo("CANCELLED");
        assertThat(c.get("startedAt")).isNull();

        // a running one: every rank aborted, the record CANCELLED within a bounded time
        awaitProgress(running, "the long run must still be going when it is cancelled");
        // a poll shows how far the prompt has got
        Map<String, Object> progress = (Map<String, Object>) api().get("/api/v1/runs/" + running).get("progress");
        assertThat(progress).as("progress of a running run").isNotNull().containsEntry("promptTokens", 6000)
                .containsEntry("chunks", 94); // 6000 = 93 × 64 + 48
        assertThat((Integer) progress.get("tokensDone")).isBetween(64, 6000);
        assertThat((Integer) progress.get("tokensDone")).isEqualTo(Math.min(6000, 64 * (Integer) progress.get("chunksDone")));
        long t0 = System.nanoTime();
        EntityExchangeResult<Map> answer = api().client().post().uri("/api/v1/runs/" + running + "/cancel").exchange()
                .expectBody(Map.class).returnResult();
        assertThat(answer.getStatus().value()).as("200 once cancelled, 202 while the ranks stop").isIn(200, 202);
        Map<String, Object> cancelled = api().await("/api/v1/runs/" + running, m -> "CANCELLED".equals(m.get("state")),
                Duration.ofSeconds(30));
        assertThat((System.nanoTime() - t0) / 1e9).as("cancelled within a bounded time").isLessThan(15);
        assertThat(cancelled.get("error")).isEqualTo("cancelled while RUNNING");
        assertThat(cancelled.get("generated")).as("a cancelled run has no result").isNull();
        List<String> stream = api().client().get().uri("/api/v1/runs/" + running + "/events").accept(MediaType.TEXT_EVENT_STREAM)
                .exchange().returnResult(String.class).getResponseBody().collectList().block(Duration.ofSeconds(20));
        assertThat(stream.get(stream.size() - 1)).as("the stream ends at the cancellation").contains("\"state\":\"CANCELLED\"");

        // the run queued behind them finds both workers free and is exact: the aborted run left no trace
        Map<String, Object> after = api().await("/api/v1/runs/" + next, m -> !"QUEUED".equals(m.get("state"))
                && !"RUNNING".equals(m.get("state")), Duration.ofSeconds(60));
        assertThat(after.get("state")).as("run %s: %s", next, after.get("error")).isEqualTo("SUCCEEDED");
        assertThat((List<Integer>) after.get("generated"))
                .containsExactlyElementsOf(Arrays.stream(singleProcess(prompt, 4).generated()).boxed().toList());
        assertThat(api().get("/api/v1/deployments/tiny-pp2").get("state")).isEqualTo("READY");
        assertThat(api().list("/api/v1/workers")).extracting(w -> w.get("state")).doesNotContain("LOST");
        api().expect(api().client().post().uri("/api/v1/runs/" + next + "/cancel").exchange(), 409, Map.class);
    }

    @Test
    @Order(4)
    void aWorkerKilledMidRunFailsTheRunNamingItAndTheControlPlaneStaysHealthy() throws Exception {
        // a long run: 6000 prompt tokens in chunks of 64, then 2000 decode steps through both stages
        Map<String, Object> submitted = api().post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 6000,
                "seed", 3, "maxNewTokens", 2000));
        String id = (String) submitted.get("id");
        awaitProgress(id, "the run must still be going when the worker is killed");
        List<String> before = api().list("/api/v1/workers").stream().map(w -> (String) w.get("id")).toList();
        Process victim = localWorkers.processes().get(1);
        victim.destroyForcibly();
        long killedAt = System.nanoTime();

        Map<String, Object> failed = api().await("/api/v1/runs/" + id, m -> "FAILED".equals(m.get("state")), Duration.ofSeconds(30));
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        String error = (String) failed.get("error");
        assertThat(seconds).as("failed within a bounded time").isLessThan(30);
        // the named worker is the one that is gone: it turns LOST, the other one does not
        String named = error.replaceAll(".*worker ([0-9a-f-]{36}).*", "$1");
        assertThat(named).as("error names a worker: %s", error).hasSize(36);
        api().await("/api/v1/workers/" + named, m -> "LOST".equals(m.get("state")), Duration.ofSeconds(15));
        assertThat(api().list("/api/v1/workers").stream().filter(w -> before.contains(w.get("id")) && !"LOST".equals(w.get("state"))).count())
                .as("the other worker is not lost").isEqualTo(1);
        api().await("/api/v1/deployments/tiny-pp2", m -> "DEGRADED".equals(m.get("state")), Duration.ofSeconds(15));
        // supervised as under `pipefill up`: the killed worker's process is started again and registers as a new worker
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (api().list("/api/v1/workers").stream().noneMatch(w -> !before.contains(w.get("id")) && "IDLE".equals(w.get("state")))) {
            assertThat(System.nanoTime()).as("the killed local worker restarted and registered within 60 s").isLessThan(deadline);
            Thread.sleep(200);
        }
        assertThat(localWorkers.restarts(1)).isEqualTo(1);
        assertThat(localWorkers.processes().get(1).pid()).isNotEqualTo(victim.pid());

        WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build().get().uri("/actuator/health").exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.status").isEqualTo("UP");
        // a new run on the degraded deployment is refused with the reason
        api().client().post().uri("/api/v1/runs").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("deployment", "tiny-pp2", "randomTokens", 10)).exchange()
                .expectStatus().isEqualTo(409).expectBody(String.class).value(b -> assertThat(b).contains("DEGRADED"));
    }

    @Test
    @Order(5)
    @SuppressWarnings("unchecked")
    void aDeepseekV3ModelDeploysAcrossBothWorkersAndRunsExactly() throws Exception {
        // the degraded deployment of the previous test gives its surviving worker back
        api().client().delete().uri("/api/v1/deployments/tiny-pp2").exchange().expectStatus().is2xxSuccessful();
        api().awaitIdleWorkers(2, Duration.ofSeconds(60));
        Path deepseek = tmp.resolve("tiny-deepseek-v3");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.DEEPSEEK_V3), 12).write(deepseek);
        Map<String, Object> registered = api().post("/api/v1/models", Map.of("name", "tiny-deepseek", "location", deepseek.toString()));
        assertThat(registered.get("architecture")).isEqualTo("DEEPSEEK_V3");
        // tensor parallelism: the two ranks split the latent attention's heads and every expert's width
        api().post("/api/v1/deployments", Map.of("name", "deepseek-tp2", "model", "tiny-deepseek", "tp", 2, "chunkSize", 96,
                "maxTokens", 2048));
        api().await("/api/v1/deployments/deepseek-tp2", m -> "READY".equals(m.get("state")), Duration.ofSeconds(60));
        int[] prompt = new SplittableRandom(8).ints(300, 0, 512).toArray();
        String id = (String) api().post("/api/v1/runs", Map.of("deployment", "deepseek-tp2",
                "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", 4)).get("id");
        Map<String, Object> run = api().await("/api/v1/runs/" + id,
                m -> !"QUEUED".equals(m.get("state")) && !"RUNNING".equals(m.get("state")), Duration.ofSeconds(60));
        assertThat(run.get("state")).as("run %s: %s", id, run.get("error")).isEqualTo("SUCCEEDED");
        PrefillResult ref = singleProcess(deepseek, prompt, 4);
        assertThat((List<Integer>) run.get("generated")).containsExactlyElementsOf(Arrays.stream(ref.generated()).boxed().toList());
        List<Double> logits = api().client().get().uri("/api/v1/runs/" + id + "/logits").exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<List<Double>>() { }).returnResult().getResponseBody();
        assertThat(relativeError(logits, ref.lastLogits())).as("relative error of the last position's logits")
                .isLessThanOrEqualTo(TOLERANCE);
    }
}
