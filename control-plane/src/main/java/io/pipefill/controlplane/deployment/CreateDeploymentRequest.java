package io.pipefill.controlplane.deployment;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import java.util.List;
import java.util.UUID;

/**
 * A deployment to create: a registered model (id or name) laid out as PP × TP. Take pp, tp, layersPerStage
 * and chunkSize from a plan ({@code POST /api/v1/plans}) or give them yourself. Workers are chosen by the
 * placement rules unless {@code workers} lists one worker id per rank.
 */
public record CreateDeploymentRequest(
        @NotBlank @Pattern(regexp = "[a-z0-9][a-z0-9._-]{0,62}", message = "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
        String name,
        @NotBlank String model,
        @Min(1) @Max(64) Integer pp,
        @Min(1) @Max(64) Integer tp,
        List<@Min(1) Integer> layersPerStage,
        @Min(1) @Max(1 << 20) Integer chunkSize,
        Boolean dynamicChunking,
        @DecimalMin("0") @DecimalMax("1") Double sigma,
        @Min(1) Integer maxTokens,
        @Min(1) @Max(256) Integer threadsPerRank,
        @Pattern(regexp = "cpu|cuda", message = "must be cpu or cuda") String backend,
        List<UUID> workers) {

    public int ppOrDefault() {
        return pp == null ? 1 : pp;
    }

    public int tpOrDefault() {
        return tp == null ? 1 : tp;
    }

    public String backendOrDefault() {
        return backend == null ? "cpu" : backend;
    }
}
