package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.openai.ChatTemplate;
import io.pipefill.controlplane.security.Tokens;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.StageShard;
import io.pipefill.model.create.ByteLevelTokenizerJson;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.tokenizer.PromptTokenizer;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.launch.SingleProcessPrefill;
import io.pipefill.worker.model.Checkpoint;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The OpenAI-compatible routes driven by the official {@code openai} npm package (src/test/openai-client, installed
 * here with {@code npm ci} from its lock file) against a control plane with two local worker processes serving a
 * PP = 2 deployment of a generated tiny model: models, completions, chat, streaming with usage, stop sequences, seeded
 * sampling, refusals in OpenAI's shape, a full queue's 429 and clients that go away. What the client saw is then
 * checked against the runs' records, the metrics, and the single-process engine on the same rendered prompt.
 */
@SpringBootTest(classes = ControlPlaneApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"pipefill.peer-timeout=10s", "pipefill.agents.allow-loopback=true", "pipefill.max-runs-in-flight=2"})
@ActiveProfiles("test")
class OpenAiClientTest {
    static final String ADMIN = "test-admin-token";
    static final String DEPLOYMENT = "tiny-chat";
    static final List<Map<String, Object>> MESSAGES = List.of(Map.of("role", "system", "content", "You are terse."),
            Map.of("role", "user", "content", "Say something about pipelines."));
    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    static Path tmp;
    static LocalWorkers localWorkers;

    @LocalServerPort
    int port;
    @Autowired
    Tokens tokens;
    @Autowired
    PipefillProperties props;

    @AfterAll
    static void stopWorkers() {
        if (localWorkers != null) {
            localWorkers.close();
        }
    }

    @Test
    void theOfficialOpenAiClientDrivesTheRoutesAgainstLocalWorkers() throws Exception {
        Assumptions.assumeTrue(found("node") && found("npm"), "node and npm are not on the PATH: the openai client"
                + " test needs them (Node 20 or later)");
        Path model = tmp.resolve("tiny");
        // the generated models carry a chat template (ModelGenerator.CHAT_TEMPLATE)
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 5).write(model);
        localWorkers = LocalWorkers.launch(2, 1, port, tokens.join(), props.dataDir().resolve("logs"));
        deploy(model);
        String key = text(post("/api/v1/api-keys", Map.of("name", "openai-client-test"), 201), "key");
        JsonNode revoked = post("/api/v1/api-keys", Map.of("name", "revoked-one"), 201);
        post("/api/v1/api-keys/" + revoked.path("apiKey").path("id").asString() + "/revoke", null, 200);

        Path results = tmp.resolve("openai-results.json");
        Path project = npmCi();
        run(List.of("node", "cases.mjs"), project, Map.of("PIPEFILL_BASE_URL", "http://127.0.0.1:" + port + "/v1",
                "PIPEFILL_API_KEY", key, "PIPEFILL_ADMIN_TOKEN", ADMIN, "PIPEFILL_MODEL", DEPLOYMENT,
                "PIPEFILL_REVOKED_KEY", revoked.path("key").asString(), "PIPEFILL_RESULTS", results.toString()),
                Duration.ofMinutes(5));
        JsonNode out = JSON.readTree(Files.readString(results));

        // models: the READY deployment, with the API key and with the admin token
        assertThat(out.path("models").get(0).path("id").asString()).isEqualTo(DEPLOYMENT);
        assertThat(out.path("models").get(0).path("owned_by").asString()).isEqualTo("pipefill");
        assertThat(out.path("models").get(0).path("created").asLong()).isPositive();
        assertThat(out.path("modelsWithAdminToken").get(0).asString()).isEqualTo(DEPLOYMENT);

        // a completion is a run: recorded, with the tokens the single-process engine generates for the same prompt
        JsonNode completion = out.path("completion");
        assertThat(completion.path("object").asString()).isEqualTo("text_completion");
        JsonNode completionRun = runOf(completion.path("id").asString());
        assertThat(completionRun.path("state").asString()).isEqualTo("SUCCEEDED");
        int[] completionPrompt = tokenize("The pipeline", true);
        assertThat(completion.path("usage").path("prompt_tokens").asInt()).isEqualTo(completionPrompt.length);
        assertThat(ints(completionRun.path("generated"))).isEqualTo(singleProcess(model, completionPrompt, 12));
        assertThat(completion.path("text").asString()).isEqualTo(expectedText(model, completionRun.path("generated")));
        assertThat(out.path("tokenIdCompletion").path("usage").path("prompt_tokens").asInt()).isEqualTo(8);

        // greedy chat: the run's tokens are the single-process engine's on the rendered prompt (pipefill prefill)
        JsonNode chat = out.path("chat");
        assertThat(chat.path("object").asString()).isEqualTo("chat.completion");
        assertThat(chat.path("role").asString()).isEqualTo("assistant");
        String rendered = new ChatTemplate(ModelGenerator.CHAT_TEMPLATE, ByteLevelTokenizerJson.BOS, ByteLevelTokenizerJson.EOS)
                .render(MESSAGES);
        int[] chatPrompt = tokenize(rendered, false);
        assertThat(chatPrompt[0]).as("the template's BOS, once").isEqualTo(ByteLevelTokenizerJson.BOS_ID);
        assertThat(chatPrompt[1]).isNotEqualTo(ByteLevelTokenizerJson.BOS_ID);
        JsonNode chatRun = runOf(chat.path("id").asString());
        assertThat(chatRun.path("promptTokens").asInt()).isEqualTo(chatPrompt.length);
        int[] reference = singleProcess(model, chatPrompt, 10);
        assertThat(ints(chatRun.path("generated"))).as("greedy chat tokens = pipefill prefill's").isEqualTo(reference);
        assertThat(chat.path("content").asString()).isEqualTo(expectedText(model, chatRun.path("generated")));
        assertThat(chat.path("usage").path("prompt_tokens").asInt()).isEqualTo(chatPrompt.length);
        boolean endedByEos = Arrays.stream(reference).anyMatch(t -> t == ByteLevelTokenizerJson.EOS_ID);
        assertThat(chat.path("finishReason").asString()).isEqualTo(endedByEos ? "stop" : "length");

        // streamed: the same text, the role first, the usage in a last chunk
        JsonNode stream = out.path("stream");
        assertThat(stream.path("content").asString()).isEqualTo(chat.path("content").asString());
        assertThat(stream.path("role").asString()).isEqualTo("assistant");
        assertThat(stream.path("finishReason").asString()).isEqualTo(chat.path("finishReason").asString());
        assertThat(stream.path("usage").path("completion_tokens").asInt()).isEqualTo(chat.path("usage").path("completion_tokens").asInt());
        assertThat(stream.path("usage").path("total_tokens").asInt()).isEqualTo(chatPrompt.length
                + chat.path("usage").path("completion_tokens").asInt());
        assertThat(stream.path("chunks").asInt()).as("role, tokens, finish, usage").isGreaterThanOrEqualTo(4);
        assertThat(out.path("completionStream").path("content").asString()).isEqualTo(completion.path("text").asString());

        // stop sequences: the text ends before the first occurrence, finish_reason stop, whole and streamed
        JsonNode stop = out.path("stop");
        assertThat(stop.path("stop").asString()).as("the greedy completion has text to stop in").isNotEmpty();
        assertThat(stop.path("text").asString()).isEqualTo(stop.path("expected").asString());
        assertThat(stop.path("finishReason").asString()).isEqualTo("stop");
        assertThat(stop.path("streamText").asString()).isEqualTo(stop.path("expected").asString());
        assertThat(stop.path("streamFinishReason").asString()).isEqualTo("stop");

        // on the wire: OpenAI's frames, and a comment line per prompt chunk through the pipeline (300 tokens, chunks of 64)
        JsonNode wire = out.path("wire");
        assertThat(wire.path("status").asInt()).isEqualTo(200);
        assertThat(wire.path("contentType").asString()).startsWith("text/event-stream");
        assertThat(wire.path("allFramesWellFormed").asBoolean()).as("%s", wire).isTrue();
        assertThat(wire.path("last").asString()).isEqualTo("data: [DONE]");
        assertThat(wire.path("progressComments").size()).as("%s", wire).isEqualTo(5);
        assertThat(wire.path("progressComments").get(4).asString()).isEqualTo(": prefill chunk 5/5, 300/300 prompt tokens");
        assertThat(wire.path("dataFrames").asInt()).as("tokens, finish and [DONE]").isGreaterThanOrEqualTo(2);

        // seeded sampling: the same seed draws the same tokens, another seed others
        JsonNode seeded = out.path("seeded");
        int[] a = ints(runOf(seeded.get(0).path("id").asString()).path("generated"));
        int[] b = ints(runOf(seeded.get(1).path("id").asString()).path("generated"));
        int[] c = ints(runOf(seeded.get(2).path("id").asString()).path("generated"));
        assertThat(b).isEqualTo(a);
        assertThat(seeded.get(1).path("text").asString()).isEqualTo(seeded.get(0).path("text").asString());
        assertThat(c).isNotEqualTo(a);
        assertThat(a).as("sampled, not greedy").isNotEqualTo(singleProcess(model, completionPrompt, 12));

        // refusals, as the openai package raises them
        assertError(out.path("badKey"), 401, "AuthenticationError", "invalid_api_key");
        assertError(out.path("revokedKey"), 401, "AuthenticationError", "invalid_api_key");
        assertError(out.path("unknownModel"), 404, "NotFoundError", "model_not_found");
        assertError(out.path("nTwo"), 400, "BadRequestError", null);
        assertThat(out.path("nTwo").path("param").asString()).isEqualTo("n");
        assertError(out.path("queueFull"), 429, "RateLimitError", "rate_limit_exceeded");

        // the clients that went away: their runs end CANCELLED, the running one and the queued one
        String cancelled = out.path("cancelled").path("running").asString();
        JsonNode cancelledRun = await("/api/v1/runs/" + runIdOf(cancelled), r -> !r.path("state").asString().equals("RUNNING"),
                Duration.ofSeconds(30));
        assertThat(cancelledRun.path("state").asString()).isEqualTo("CANCELLED");
        await("/api/v1/runs?state=QUEUED", r -> r.isEmpty(), Duration.ofSeconds(30));
        assertThat(get("/api/v1/runs?state=CANCELLED").size()).isEqualTo(2);

        // every request is a run on the deployment, and counted in the serving metrics
        // 13 requests started runs; the refused ones (401, 404, 400, 429) did not
        assertThat(get("/api/v1/runs?deployment=" + DEPLOYMENT + "&limit=1000").size()).isEqualTo(13);
        String metrics = client().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(metrics).contains("pipefill_time_to_first_token_seconds_bucket{model_name=\"" + DEPLOYMENT + "\",le=\"3600.0\"}")
                .contains("pipefill_time_per_output_token_seconds_count{model_name=\"" + DEPLOYMENT + "\"}")
                .contains("pipefill_prompt_tokens_total{model_name=\"" + DEPLOYMENT + "\"}")
                .contains("pipefill_generation_tokens_total{model_name=\"" + DEPLOYMENT + "\"}")
                .contains("pipefill_request_success_total{finished_reason=\"stop\",model_name=\"" + DEPLOYMENT + "\"}")
                .contains("pipefill_request_success_total{finished_reason=\"abort\",model_name=\"" + DEPLOYMENT + "\"}");
    }

    private static void assertError(JsonNode e, int status, String errorClass, String code) {
        assertThat(e.path("status").asInt()).as("%s", e).isEqualTo(status);
        assertThat(e.path("errorClass").asString()).as("%s", e).isEqualTo(errorClass);
        if (code != null) {
            assertThat(e.path("code").asString()).as("%s", e).isEqualTo(code);
        }
        assertThat(e.path("message").asString()).as("%s", e).isNotBlank();
    }

    private static String runIdOf(String openAiId) {
        return openAiId.substring(openAiId.indexOf('-') + 1);
    }

    private JsonNode runOf(String openAiId) {
        return get("/api/v1/runs/" + runIdOf(openAiId));
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private int[] tokenize(String text, boolean addSpecialTokens) {
        try (PromptTokenizer t = PromptTokenizer.open(tmp.resolve("tiny").resolve("tokenizer.json"))) {
            return t.encode(text, addSpecialTokens);
        }
    }

    /** The text of the generated tokens up to an end-of-sequence token, decoded as a whole. */
    private static String expectedText(Path model, JsonNode generated) {
        List<Integer> kept = new ArrayList<>();
        for (JsonNode t : generated) {
            if (t.asInt() == ByteLevelTokenizerJson.EOS_ID) {
                break;
            }
            kept.add(t.asInt());
        }
        try (PromptTokenizer t = PromptTokenizer.open(model.resolve("tokenizer.json"))) {
            return t.decode(kept.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    /** What `pipefill prefill` computes: the single-process engine, greedy. */
    private static int[] singleProcess(Path model, int[] tokens, int maxNewTokens) {
        ModelDirectory md = ModelDirectory.open(model);
        PrefillRequest req = new PrefillRequest(tokens, tokens.length, maxNewTokens);
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, req.kvPositions())) {
            PrefillResult r = new SingleProcessPrefill(md.config(), stage).run(req, ProgressListener.NONE);
            return r.generated();
        }
    }

    /** The node project copied under target/ (the source tree stays clean) and its locked packages installed. */
    private static Path npmCi() throws Exception {
        Path source = Path.of("src/test/openai-client");
        Path project = Path.of("target/openai-client");
        Files.createDirectories(project);
        for (String f : List.of("package.json", "package-lock.json", "cases.mjs")) {
            Files.copy(source.resolve(f), project.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        run(List.of("npm", "ci", "--no-audit", "--no-fund"), project, Map.of(), Duration.ofMinutes(3));
        return project;
    }

    private static void run(List<String> command, Path dir, Map<String, String> env, Duration limit) throws Exception {
        Path log = Files.createTempFile(tmp, command.get(0), ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        boolean done = p.waitFor(limit.toSeconds(), TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertThat(done && p.exitValue() == 0).as("%s in %s (within %s):%n%s", command, dir, limit, output).isTrue();
    }

    private static boolean found(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private void deploy(Path model) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (countIdle() < 2) {
            assertThat(System.nanoTime()).as("two local workers registered within 60 s").isLessThan(deadline);
            Thread.sleep(200);
        }
        post("/api/v1/models", Map.of("name", "tiny-openai", "location", model.toString()), 201);
        post("/api/v1/deployments", Map.of("name", DEPLOYMENT, "model", "tiny-openai", "pp", 2, "chunkSize", 64,
                "maxTokens", 8192), 201);
        await("/api/v1/deployments/" + DEPLOYMENT, d -> "READY".equals(d.path("state").asString()), Duration.ofSeconds(60));
    }

    private int countIdle() {
        int n = 0;
        for (JsonNode w : get("/api/v1/workers")) {
            n += "IDLE".equals(w.path("state").asString()) ? 1 : 0;
        }
        return n;
    }

    private WebTestClient client() {
        return WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(30))
                .defaultHeader("Authorization", "Bearer " + ADMIN).build();
    }

    private JsonNode get(String path) {
        return expect(client().get().uri(path).exchange(), 200);
    }

    private JsonNode post(String path, Object body, int status) {
        var spec = client().post().uri(path);
        return expect(body == null ? spec.exchange() : spec.contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange(), status);
    }

    private static JsonNode expect(WebTestClient.ResponseSpec response, int status) {
        EntityExchangeResult<byte[]> r = response.expectBody().returnResult();
        String body = r.getResponseBody() == null ? "" : new String(r.getResponseBody());
        assertThat(r.getStatus().value()).as("%s %s: %s", r.getMethod(), r.getUrl(), body).isEqualTo(status);
        return JSON.readTree(body);
    }

    private static String text(JsonNode node, String field) {
        return node.path(field).asString();
    }

    private JsonNode await(String path, Predicate<JsonNode> done, Duration within) throws InterruptedException {
        return AdminApi.poll(path, this::get, done, within);
    }
}
