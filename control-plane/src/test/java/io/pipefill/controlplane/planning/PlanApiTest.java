package io.pipefill.controlplane.planning;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.http.MediaType;

/**
 * Plans. The only test workers with GPUs register here, after the "no GPUs" case (ordered): the database is
 * shared by every API test class.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PlanApiTest extends ApiTestSupport {
    private static final Map<String, Object> H100_X8 = Map.of("gpu", "h100", "nodes", 1, "gpusPerNode", 8);

    @TempDir
    Path dir;

    private static Map<String, Object> body(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    @Order(1)
    void registeredClusterWithoutGpusIs400() {
        register(registration(unique("cpu-only"), "http://" + unique("cpu") + ":1"));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 32768)).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains("no HEALTHY registered node has GPUs").contains("\"cluster\""));
    }

    @Test
    @Order(2)
    void ranksLayoutsForAPresetOnADescribedCluster() {
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 32768, "cluster", H100_X8))
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.mode").isEqualTo("recommend")
                .jsonPath("$.gpu").isEqualTo("h100")
                .jsonPath("$.cluster_source").isEqualTo("described")
                .jsonPath("$.plans[0].rank").isEqualTo(1)
                .jsonPath("$.plans[0].reason").isNotEmpty()
                .jsonPath("$.plans[0].ttft_ms").isNumber()
                .jsonPath("$.rejected").isArray();
    }

    @Test
    @Order(3)
    void predictsOneLayoutAndPlansAnInlineConfig() {
        Map<String, Object> config = body("architectures", List.of("LlamaForCausalLM"), "model_type", "llama",
                "hidden_size", 2048, "intermediate_size", 8192, "num_hidden_layers", 16, "num_attention_heads", 32,
                "num_key_value_heads", 8, "vocab_size", 128256, "max_position_embeddings", 131072, "torch_dtype", "bfloat16");
        adminPost("/api/v1/plans", body("config", config, "promptTokens", 16384, "pp", 2, "tp", 4, "cluster", H100_X8))
                .expectStatus().isOk()
                .expectBody().jsonPath("$.mode").isEqualTo("predict")
                .jsonPath("$.pp").isEqualTo(2).jsonPath("$.tp").isEqualTo(4);
    }

    @Test
    @Order(3)
    void aPlannedScheduleIsOptimisedForOneLayoutAndShown() {
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 16384, "pp", 2, "tp", 4,
                "chunking", "planned", "cluster", H100_X8))
                .expectStatus().isOk()
                .expectBody().jsonPath("$.mode").isEqualTo("predict")
                .jsonPath("$.chunking.planned").isEqualTo(true)
                .jsonPath("$.chunking.schedule").isNotEmpty()
                .jsonPath("$.chunks[*].size").value(sizes -> assertThat(((List<?>) sizes).stream()
                        .mapToInt(n -> ((Number) n).intValue()).sum()).isEqualTo(16384));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 16384, "chunking", "planned",
                "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("chunking")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).contains("give pp and tp"));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 16384, "pp", 2, "tp", 4,
                "chunking", "greedy", "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("chunking")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).contains("swept").contains("planned"));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 1 << 20, "pp", 2, "tp", 4,
                "chunking", "planned", "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("promptTokens")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).contains("262144"));
    }

    @Test
    @Order(4)
    void badPlanRequestsAre400NamingTheField() {
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 1000,
                "cluster", Map.of("gpu", "v100", "nodes", 1, "gpusPerNode", 8))).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("cluster.gpu")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).contains("'v100'")
                        .contains("h20, h20-141g, h100, h200, a100, b200"));
        adminPost("/api/v1/plans", body("promptTokens", 1000, "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("model");
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "cluster", Map.of("gpu", "h100", "nodes", 0)))
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[?(@.field == 'promptTokens')].message").isEqualTo("is required: the prompt length in tokens")
                .jsonPath("$.errors[?(@.field == 'cluster.nodes')]").exists();
        adminPost("/api/v1/plans", body("model", "gpt-5", "promptTokens", 1000, "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("'gpt-5'").contains("llama-3.1-8b"));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 1000, "pp", 3, "tp", 3, "cluster", H100_X8))
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).doesNotContain("--"));
        adminPost("/api/v1/plans", body("model", "llama-3.1-8b", "promptTokens", 1000, "objective", "cheapest",
                "cluster", H100_X8)).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("ttft, throughput-per-gpu"));
    }

    @Test
    @Order(5)
    void plansARegisteredModelOnTheRegisteredGpus() throws Exception {
        Path tiny = dir.resolve("tiny");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.QWEN3), 2).write(tiny);
        String name = unique("plan-tiny");
        adminPost("/api/v1/models", Map.of("name", name, "location", tiny.toString())).expectStatus().isCreated();
        for (int i = 0; i < 2; i++) {
            String node = unique("gpu-node");
            register(registration(node, "http://" + node + ":9100", new GpuInventory("NVIDIA H100 80GB HBM3", 80L << 30, 8)));
        }
        adminPost("/api/v1/plans", body("model", name, "promptTokens", 4096)).expectStatus().isOk()
                .expectBody()
                .jsonPath("$.cluster_source").isEqualTo("registered")
                .jsonPath("$.gpu").isEqualTo("h100")
                .jsonPath("$.nodes").isEqualTo(2)
                .jsonPath("$.gpus_per_node").isEqualTo(8)
                .jsonPath("$.notes[0]").value(n -> assertThat((String) n).startsWith("cluster: 2 registered node(s)"));
    }
}
