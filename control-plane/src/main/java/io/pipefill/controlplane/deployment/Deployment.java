package io.pipefill.controlplane.deployment;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A model laid out as PP × TP on workers: layers per stage, the chunking settings runs use, the KV capacity
 * every rank reserves (maxTokens: the longest prompt plus generated tokens a run may have) and where each
 * rank runs.
 *
 * @param chunking    {@code fixed}, {@code dynamic} or {@code planned}; with planned, chunkSize is the largest chunk
 * @param calibration the chunk costs planned schedules are optimised on (null for fixed and dynamic chunking, and for
 *                    a planned deployment still measuring them)
 */
public record Deployment(UUID id, String name, UUID modelId, int pp, int tp, List<Integer> layersPerStage,
                         int chunkSize, boolean dynamicChunking, double sigma, String chunking,
                         ChunkCostCalibration calibration, int maxTokens, int threadsPerRank,
                         DeploymentState state, String stateReason, List<Placement> placements, Instant createdAt,
                         Instant updatedAt) {
    public static final String FIXED = "fixed";
    public static final String DYNAMIC = "dynamic";
    public static final String PLANNED = "planned";

    /** Fixed or dynamic chunking, as deployments were before planned schedules. */
    public Deployment(UUID id, String name, UUID modelId, int pp, int tp, List<Integer> layersPerStage, int chunkSize,
                      boolean dynamicChunking, double sigma, int maxTokens, int threadsPerRank, DeploymentState state,
                      String stateReason, List<Placement> placements, Instant createdAt, Instant updatedAt) {
        this(id, name, modelId, pp, tp, layersPerStage, chunkSize, dynamicChunking, sigma,
                dynamicChunking ? DYNAMIC : FIXED, null, maxTokens, threadsPerRank, state, stateReason, placements,
                createdAt, updatedAt);
    }

    public boolean planned() {
        return PLANNED.equals(chunking);
    }

    public Deployment withPlacements(List<Placement> p) {
        return new Deployment(id, name, modelId, pp, tp, layersPerStage, chunkSize, dynamicChunking, sigma, chunking,
                calibration, maxTokens, threadsPerRank, state, stateReason, List.copyOf(p), createdAt, updatedAt);
    }
}
