package io.pipefill.controlplane.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.Architecture;
import io.pipefill.model.BlockFp8;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.http.MediaType;

class ModelApiTest extends ApiTestSupport {
    @TempDir
    static Path dir;
    static Path tiny;

    @BeforeAll
    static void generate() throws Exception {
        tiny = dir.resolve("tiny-llama");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 1).write(tiny);
    }

    @Test
    void registersListsAndFindsByIdOrName() {
        String name = unique("tiny");
        RegisteredModel m = adminPost("/api/v1/models", Map.of("name", name, "location", tiny.toString()))
                .expectStatus().isCreated()
                .expectHeader().value("Location", l -> assertThat(l).startsWith("/api/v1/models/"))
                .expectBody(RegisteredModel.class).returnResult().getResponseBody();
        assertThat(m.name()).isEqualTo(name);
        assertThat(m.architecture()).isEqualTo("LLAMA");
        assertThat(m.sizeBytes()).isPositive();
        assertThat(m.hasTokenizer()).isTrue();
        adminGet("/api/v1/models/{id}", m.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo(name);
        adminGet("/api/v1/models/{name}", name).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(m.id().toString());
        adminGet("/api/v1/models").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[?(@.name == '" + name + "')].location").isEqualTo(tiny.toString());
    }

    @Test
    void registersAMixtureOfExpertsModelWithFp8Weights() throws Exception {
        ModelConfig t = ModelPreset.TINY.config(Architecture.QWEN3_MOE);
        Path moe = dir.resolve("tiny-qwen3-moe-fp8");
        new ModelGenerator(new ModelConfig(t.architecture(), t.vocabSize(), t.hiddenSize(), t.intermediateSize(),
                t.numLayers(), t.numHeads(), t.numKvHeads(), t.headDim(), t.maxPositionEmbeddings(), t.ropeTheta(),
                t.ropeScaling(), t.rmsNormEps(), t.tieWordEmbeddings(), t.attentionBias(), t.torchDtype(), t.moe(),
                BlockFp8.DEEPSEEK), 1).write(moe);
        String name = unique("tiny-moe");
        RegisteredModel m = adminPost("/api/v1/models", Map.of("name", name, "location", moe.toString()))
                .expectStatus().isCreated().expectBody(RegisteredModel.class).returnResult().getResponseBody();
        assertThat(m.architecture()).isEqualTo("QWEN3_MOE");
        assertThat(m.layers()).isEqualTo(t.numLayers());
        assertThat(m.parameters()).isEqualTo(t.parameterCount());
        // a layout the experts cannot take is refused by name, as for a dense model
        adminPost("/api/v1/deployments", Map.of("name", unique("moe-d"), "model", name, "tp", 3)).expectStatus()
                .isBadRequest().expectBody(String.class).value(b -> assertThat(b).contains("tp 3 must divide"));
    }

    @Test
    void duplicateNameIs409() {
        String name = unique("dup");
        adminPost("/api/v1/models", Map.of("name", name, "location", tiny.toString())).expectStatus().isCreated();
        adminPost("/api/v1/models", Map.of("name", name, "location", tiny.toString())).expectStatus().isEqualTo(409)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains(name).contains("already registered"));
    }

    @Test
    void badNamesAndLocationsAre400NamingTheField() {
        adminPost("/api/v1/models", Map.of("name", "Tiny_Model", "location", tiny.toString())).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("name")
                .jsonPath("$.errors[0].message").value(msg -> assertThat((String) msg).contains("a-z, 0-9").contains("Tiny_Model"));
        adminPost("/api/v1/models", Map.of("name", "a".repeat(64), "location", tiny.toString())).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").value(msg -> assertThat((String) msg).contains("1 to 63"));
        adminPost("/api/v1/models", Map.of("name", "", "location", "")).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[?(@.field == 'name')]").exists()
                .jsonPath("$.errors[?(@.field == 'location')]").exists();
        adminPost("/api/v1/models", Map.of("name", unique("nowhere"), "location", dir.resolve("missing").toString()))
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).startsWith("location: "));
    }

    @Test
    void unknownModelIs404() {
        adminGet("/api/v1/models/{id}", UUID.randomUUID()).exchange().expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        adminGet("/api/v1/models/{name}", "no-such-model").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.detail").isEqualTo("model no-such-model not found");
    }
}
