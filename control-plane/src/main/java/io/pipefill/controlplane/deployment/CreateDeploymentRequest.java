package io.pipefill.controlplane.deployment;

import jakarta.validation.Valid;
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
 *
 * <p>Chunking: {@code chunking} is {@code fixed} (chunks of chunkSize), {@code dynamic} (σ-smoothed chunks from the
 * base chunkSize; the same as {@code dynamicChunking: true}) or {@code planned} (each run's schedule optimised for its
 * prompt length on the deployment's chunk-cost calibration, with chunks of 64 … chunkSize tokens; the calibration is
 * {@code calibration} when given, else measured by a calibration run on the deployment's workers once its shards are
 * loaded). Left out, it follows {@code dynamicChunking}, as before.
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
        @Pattern(regexp = "fixed|dynamic|planned", message = "must be fixed, dynamic or planned") String chunking,
        @Valid CalibrationRequest calibration,
        @Min(1) Integer maxTokens,
        @Min(1) @Max(256) Integer threadsPerRank,
        @Pattern(regexp = "cpu|cuda", message = "must be cpu or cuda") String backend,
        List<UUID> workers) {

    /** Fixed or dynamic chunking, the fields of a request from before {@code chunking} existed. */
    public CreateDeploymentRequest(String name, String model, Integer pp, Integer tp, List<Integer> layersPerStage,
                                   Integer chunkSize, Boolean dynamicChunking, Double sigma, Integer maxTokens,
                                   Integer threadsPerRank, String backend, List<UUID> workers) {
        this(name, model, pp, tp, layersPerStage, chunkSize, dynamicChunking, sigma, null, null, maxTokens, threadsPerRank,
                backend, workers);
    }

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
