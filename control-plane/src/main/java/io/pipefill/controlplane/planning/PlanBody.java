package io.pipefill.controlplane.planning;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Positive;
import jakarta.validation.constraints.Size;
import java.util.Map;

/**
 * POST /api/v1/plans, the REST form of {@code pipefill plan}. The model is either {@code model} (a registered
 * model's id or name, or a preset such as {@code llama-3.1-8b}) or {@code config} (a Hugging Face config.json
 * object inline). Without {@code cluster} the registered healthy nodes' GPUs are planned on. With both
 * {@code pp} and {@code tp} that layout is predicted; otherwise the feasible layouts are ranked. {@code chunking:
 * planned} (one layout: pp and tp given) also optimises the whole chunk sequence, as {@code pipefill plan
 * --chunking planned} does, and the plan shows the schedule.
 *
 * <p>The planner simulates every chunk of every candidate layout, so its work grows with the prompt over the chunk
 * size and with the cluster; the bounds here and in {@link PlanLimits} keep one request to seconds.
 */
public record PlanBody(
        @Size(max = 256, message = "must be at most 256 characters: a registered model's id or name, or a preset") String model,
        Map<String, Object> config,
        @Valid ClusterBody cluster,
        @NotNull(message = "is required: the prompt length in tokens") @Positive(message = "must be positive")
        @Max(value = PlanLimits.MAX_PROMPT_TOKENS, message = "must be at most 2097152 (2M tokens)") Integer promptTokens,
        @Positive(message = "must be at least 1") @Max(value = PlanLimits.MAX_GPUS, message = "must be at most 4096") Integer pp,
        @Positive(message = "must be at least 1") @Max(value = PlanLimits.MAX_GPUS_PER_NODE, message = "must be at most 72") Integer tp,
        @Size(max = 16384, message = "must be at most 16384 characters") String layerPartition,
        @Positive(message = "must be positive") Integer chunk,
        Boolean dynamicChunking,
        @Pattern(regexp = "swept|planned", message = "must be swept (fixed and dynamic chunking tried, the default) or planned")
        String chunking,
        @DecimalMin(value = "0", message = "must be in [0, 1]") @DecimalMax(value = "1", message = "must be in [0, 1]") Double smooth,
        Boolean allowInterNodeTp,
        @Size(max = 64, message = "must be ttft or throughput-per-gpu") String objective,
        Boolean timeline) {

    /**
     * A described cluster: {@code nodes} × {@code gpusPerNode} GPUs of one catalog type, inter-node NIC bandwidth
     * per GPU (Gb/s, default 400) and message latency (µs, default 25).
     */
    public record ClusterBody(
            @NotNull(message = "is required: a GPU type (h20, h20-141g, h100, h200, a100, b200)")
            @Size(max = 64, message = "must be a GPU type (h20, h20-141g, h100, h200, a100, b200)") String gpu,
            @Positive(message = "must be at least 1") @Max(value = PlanLimits.MAX_NODES, message = "must be at most 1024") Integer nodes,
            @Positive(message = "must be at least 1") @Max(value = PlanLimits.MAX_GPUS_PER_NODE, message = "must be at most 72")
            Integer gpusPerNode,
            @Positive(message = "must be positive (Gb/s)") Double nicGbps,
            @DecimalMin(value = "0", message = "must be ≥ 0 (µs)") Double nicLatencyUs) {
    }
}
