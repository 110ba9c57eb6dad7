package io.pipefill.controlplane.planning;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/**
 * A plan's parameters are bounded before the planner runs (finding 13): a 1M-token prompt with chunk 1 took 14.8 s
 * and 5.2 GB, since every chunk of every layout is simulated.
 */
class PlanBoundsApiTest extends ApiTestSupport {
    private static final Map<String, Object> H100_X8 = Map.of("gpu", "h100", "nodes", 1, "gpusPerNode", 8);

    private void expect400(Map<String, Object> body, String field, String... messageParts) {
        adminPost("/api/v1/plans", body).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.errors[0].field").isEqualTo(field)
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).contains(messageParts));
    }

    @Test
    void aChunkTooSmallForThePromptIsRefusedBeforePlanning() {
        long start = System.nanoTime();
        // 65 536 chunks of 16: the planner would simulate each on every stage of four layouts, eight chunkings each
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", 1 << 20, "chunk", 16, "cluster", H100_X8),
                "chunk", "must be at least 256 for a prompt of 1048576 tokens", "at most 4096 chunks");
        assertThat((System.nanoTime() - start) / 1e9).as("seconds to answer").isLessThan(2.0);
        // the smallest allowed chunk plans
        adminPost("/api/v1/plans", Map.of("model", "llama-3.1-8b", "promptTokens", 1 << 20, "chunk", 256, "pp", 1, "tp", 8,
                "cluster", H100_X8)).expectStatus().isOk();
    }

    @Test
    void promptAndClusterSizesAreBounded() {
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", (1 << 21) + 1, "cluster", H100_X8),
                "promptTokens", "at most 2097152");
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", 4096,
                "cluster", Map.of("gpu", "h100", "nodes", 100_000, "gpusPerNode", 8)), "cluster.nodes", "at most 1024");
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", 4096,
                "cluster", Map.of("gpu", "h100", "nodes", 1024, "gpusPerNode", 72)), "cluster", "73728 GPUs", "at most 4096");
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", 4096, "objective", "throughput-per-gpu",
                "cluster", Map.of("gpu", "h100", "nodes", 32, "gpusPerNode", 8)), "objective", "at most 16 nodes");
        expect400(Map.of("model", "llama-3.1-8b", "promptTokens", 4096, "pp", 1, "tp", 1000, "cluster", H100_X8),
                "tp", "at most 72");
    }
}
