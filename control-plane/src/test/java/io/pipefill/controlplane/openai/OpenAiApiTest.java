package io.pipefill.controlplane.openai;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.create.ModelGenerator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The OpenAI routes' keys and refusals, without workers (the whole path with the openai client and local workers is
 * the cli module's OpenAiClientTest): API keys shown once and stored hashed, revocable, good for /v1 only; every
 * refusal on /v1 in OpenAI's error shape; a model without a chat template refused with a clear 400.
 */
class OpenAiApiTest extends ApiTestSupport {
    @Autowired
    ModelRegistrar registrar;
    @Autowired
    DeploymentRepository deployments;
    @Autowired
    JdbcClient jdbc;

    /** A READY deployment (on a worker that never answers) of a generated model whose template was removed. */
    private String deploymentWithoutTemplate() throws Exception {
        Path dir = Files.createTempDirectory("pipefill-openai-").resolve("tiny");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 3).write(dir);
        Path config = dir.resolve("tokenizer_config.json");
        String text = Files.readString(config);
        Files.writeString(config, text.replaceAll("\\s*\"chat_template\": \".*\",", ""));
        assertThat(Files.readString(config)).doesNotContain("chat_template").contains("eos_token");
        RegisteredModel model = registrar.register(unique("no-template"), dir.toString());
        RegistrationAccepted w = register(registration(unique("openai-node"), "http://" + unique("openai") + ":9"));
        String name = unique("no-template");
        deployments.insert(new Deployment(UUID.randomUUID(), name, model.id(), 1, 1, List.of(model.layers()), 64,
                false, 0.75, 1024, 1, DeploymentState.READY, null,
                List.of(new Placement(0, 0, 0, UUID.fromString(w.workerId()))), null, null));
        return name;
    }

    private WebTestClient.ResponseSpec v1(String bearer, String path, String body) {
        var spec = web.post().uri(path).headers(h -> {
            if (bearer != null) {
                h.setBearerAuth(bearer);
            }
        });
        return spec.contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private static void openAiError(WebTestClient.ResponseSpec r, int status, String param, String code, String messagePart) {
        r.expectStatus().isEqualTo(status).expectHeader().contentType(MediaType.APPLICATION_JSON).expectBody()
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains(messagePart))
                .jsonPath("$.error.type").isNotEmpty()
                .jsonPath("$.error.param").isEqualTo(param)
                .jsonPath("$.error.code").isEqualTo(code);
    }

    @Test
    void anApiKeyIsShownOnceStoredHashedGoodForV1OnlyAndRevocable() throws Exception {
        var created = adminPost("/api/v1/api-keys", Map.of("name", "ci")).expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        String key = (String) created.get("key");
        @SuppressWarnings("unchecked")
        String id = (String) ((Map<String, Object>) created.get("apiKey")).get("id");
        assertThat(key).startsWith("pfk_").hasSizeGreaterThan(40);

        // the listing and the record never hold the key, only its SHA-256 and its first characters
        String listing = adminGet("/api/v1/api-keys").exchange().expectStatus().isOk().expectBody(String.class)
                .returnResult().getResponseBody();
        assertThat(listing).contains(id).contains(key.substring(0, 12)).doesNotContain(key);
        byte[] stored = jdbc.sql("select key_hash from api_keys where id = :id").param("id", UUID.fromString(id))
                .query(byte[].class).single();
        assertThat(stored).isEqualTo(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
        assertThat(jdbc.sql("select count(*) from api_keys where key_prefix = :k or name = :k").param("k", key)
                .query(Integer.class).single()).isZero();

        web.get().uri("/v1/models").headers(h -> h.setBearerAuth(key)).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.object").isEqualTo("list");
        // a key is for the OpenAI routes, not the admin API
        web.get().uri("/api/v1/runs").headers(h -> h.setBearerAuth(key)).exchange().expectStatus().isForbidden();

        adminPost("/api/v1/api-keys/" + id + "/revoke", null).expectStatus().isOk().expectBody()
                .jsonPath("$.revokedAt").isNotEmpty();
        openAiError(web.get().uri("/v1/models").headers(h -> h.setBearerAuth(key)).exchange(), 401, null,
                "invalid_api_key", "the bearer token sent is not known");
    }

    @Test
    void refusalsOnV1AreInOpenAisShape() throws Exception {
        String d = deploymentWithoutTemplate();
        openAiError(web.get().uri("/v1/models").exchange(), 401, null, "invalid_api_key", "no Authorization header");
        openAiError(v1(JOIN, "/v1/completions", "{}"), 403, null, "forbidden", "API key or the admin token");
        // unknown fields and user are ignored, as OpenAI does: the refusal is about the template, not the fields
        openAiError(v1(ADMIN, "/v1/chat/completions", "{\"model\": \"" + d + "\", \"user\": \"u1\", \"logit_bias\": {},"
                        + " \"some_future_field\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"),
                400, "messages", "chat_template_missing", "has no chat_template in");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": \"nope-" + UUID.randomUUID() + "\", \"prompt\": \"x\"}"),
                404, "model", "model_not_found", "does not exist");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": \"" + d + "\", \"prompt\": \"x\", \"n\": 2}"),
                400, "n", null, "n = 2 is not supported");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": \"" + d + "\", \"prompt\": \"x\", \"temperature\": 3}"),
                400, "temperature", null, "temperature: 3.0 is not in [0, 2]");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": \"" + d + "\", \"prompt\": [\"a\", \"b\"]}"),
                400, "prompt", null, "a batch of several prompts is not supported");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": \"" + d + "\", \"prompt\": \"x\", \"stop\": 5}"),
                400, "stop", null, "stop must be a string or an array of strings");
        openAiError(v1(ADMIN, "/v1/completions", "{\"model\": "), 400, null, null, "not valid JSON");
    }

    @Test
    void theOpenApiDocumentListsTheNewRoutes() {
        web.get().uri("/v3/api-docs").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.paths['/v1/models']").exists()
                .jsonPath("$.paths['/v1/completions'].post").exists()
                .jsonPath("$.paths['/v1/chat/completions'].post").exists()
                .jsonPath("$.paths['/api/v1/api-keys'].post").exists()
                .jsonPath("$.paths['/api/v1/api-keys/{id}/revoke'].post").exists();
    }
}
