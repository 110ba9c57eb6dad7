package io.pipefill.controlplane.planning;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import java.util.Map;

/**
 * POST /api/v1/plans, the REST form of {@code pipefill plan}. The model is either {@code model} (a registered
 * model's id or name, or a preset such as {@code llama-3.1-8b}) or {@code config} (a Hugging Face config.json
 * object inline). Without {@code cluster} the registered healthy nodes' GPUs are planned on. With both
 * {@code pp} and {@code tp} that layout is predicted; otherwise the feasible layouts are ranked.
 */
public record PlanBody(
        String model,
        Map<String, Object> config,
        @Valid ClusterBody cluster,
        @NotNull(message = "is required: the prompt length in tokens") @Positive(message = "must be positive") Integer promptTokens,
        @Positive(message = "must be at least 1") Integer pp,
        @Positive(message = "must be at least 1") Integer tp,
        String layerPartition,
        @Positive(message = "must be positive") Integer chunk,
        Boolean dynamicChunking,
        @DecimalMin(value = "0", message = "must be in [0, 1]") @DecimalMax(value = "1", message = "must be in [0, 1]") Double smooth,
        Boolean allowInterNodeTp,
        String objective,
        Boolean timeline) {

    /**
     * A described cluster: {@code nodes} × {@code gpusPerNode} GPUs of one catalog type, inter-node NIC bandwidth
     * per GPU (Gb/s, default 400) and message latency (µs, default 25).
     */
    public record ClusterBody(
            @NotNull(message = "is required: a GPU type (h20, h20-141g, h100, h200, a100, b200)") String gpu,
            @Positive(message = "must be at least 1") Integer nodes,
            @Positive(message = "must be at least 1") Integer gpusPerNode,
            @Positive(message = "must be positive (Gb/s)") Double nicGbps,
            @DecimalMin(value = "0", message = "must be ≥ 0 (µs)") Double nicLatencyUs) {
    }
}
