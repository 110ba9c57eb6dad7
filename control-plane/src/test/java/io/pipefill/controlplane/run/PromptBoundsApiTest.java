package io.pipefill.controlplane.run;

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
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;

/**
 * A prompt is measured against its deployment before any work is done on it (findings 2 and 13): a text too long
 * for the deployment is refused before it is tokenized (a 4 MB text used to be tokenized first, for seconds and
 * GBs), and a token count too large before its array is allocated (randomTokens 16 777 216 allocated 64 MB).
 */
class PromptBoundsApiTest extends ApiTestSupport {
    private static final int MAX_TOKENS = 1024;

    @Autowired
    ModelRegistrar registrar;
    @Autowired
    DeploymentRepository deployments;

    String deployment;

    @BeforeEach
    void readyDeployment() throws Exception {
        Path dir = Files.createTempDirectory("pipefill-prompt-bounds-").resolve("tiny");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 3).write(dir);
        RegisteredModel model = registrar.register(unique("bounds"), dir.toString());
        RegistrationAccepted w = register(registration(unique("bounds-node"), "http://" + unique("bounds") + ":9"));
        deployment = unique("bounds");
        // recorded READY on a worker that never answers: a submission that passes every check would be queued
        deployments.insert(new Deployment(UUID.randomUUID(), deployment, model.id(), 1, 1, List.of(model.layers()), 64,
                false, 0.75, MAX_TOKENS, 1, DeploymentState.READY, null,
                List.of(new Placement(0, 0, 0, UUID.fromString(w.workerId()))), null, null));
    }

    @Test
    void aTextTooLongForTheDeploymentIsRefusedBeforeItIsTokenized() {
        String text = "pipefill ".repeat(4 << 20 >> 3); // 4.5 MB, about as many tokens with the byte-level tokenizer
        long start = System.nanoTime();
        adminPost("/api/v1/runs", Map.of("deployment", deployment, "text", text)).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody()
                .jsonPath("$.errors[0].field").isEqualTo("text")
                .jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains("text: longer than the " + 32 * MAX_TOKENS + " bytes of UTF-8 deployment " + deployment)
                        .contains("maxTokens = 1024").contains("pipefill.prompt.max-text-size").contains("tokenIds"));
        // the JSON body itself is read in milliseconds; tokenizing it took seconds
        assertThat((System.nanoTime() - start) / 1e9).as("seconds to answer").isLessThan(2.0);
    }

    @Test
    void aDeploymentReferenceIsBounded() {
        adminPost("/api/v1/runs", Map.of("deployment", "d".repeat(1 << 20), "randomTokens", 8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("deployment")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).startsWith("must be at most 256 characters")
                        .endsWith("(got a value of 1048576 characters)"));
    }

    @Test
    void aTextThatFitsIsTokenizedAndItsTokensCheckedToo() {
        // 2 000 bytes pass the length bound (32 per token); the byte-level tokenizer makes > 1 024 tokens of them
        adminPost("/api/v1/runs", Map.of("deployment", deployment, "text", "x".repeat(2000))).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains("the prompt has 2001 tokens").contains("maxTokens = 1024"));
    }

    @Test
    void aTokenCountTooLargeIsRefusedBeforeTheTokensAreMade() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getTotalThreadAllocatedBytes();
        for (int i = 0; i < 5; i++) {
            adminPost("/api/v1/runs", Map.of("deployment", deployment, "randomTokens", 16_777_216)).expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                            .contains("the prompt has 16777216 tokens").contains("maxTokens = 1024"));
        }
        // each used to allocate its 64 MB of random ids first: 320 MB for the five
        long allocatedMb = (threads.getTotalThreadAllocatedBytes() - before) >> 20;
        assertThat(allocatedMb).as("MB allocated by the JVM while five were refused").isLessThan(64);
        adminPost("/api/v1/runs", Map.of("deployment", deployment, "randomTokens", MAX_TOKENS + 1)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("1025 KV positions"));
    }
}
