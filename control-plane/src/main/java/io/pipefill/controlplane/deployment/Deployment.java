package io.pipefill.controlplane.deployment;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A model laid out as PP × TP on workers: layers per stage, the chunking settings runs use, the KV capacity
 * every rank reserves (maxTokens: the longest prompt plus generated tokens a run may have) and where each
 * rank runs.
 */
public record Deployment(UUID id, String name, UUID modelId, int pp, int tp, List<Integer> layersPerStage,
                         int chunkSize, boolean dynamicChunking, double sigma, int maxTokens, int threadsPerRank,
                         DeploymentState state, String stateReason, List<Placement> placements, Instant createdAt,
                         Instant updatedAt) {

    public Deployment withPlacements(List<Placement> p) {
        return new Deployment(id, name, modelId, pp, tp, layersPerStage, chunkSize, dynamicChunking, sigma, maxTokens,
                threadsPerRank, state, stateReason, List.copyOf(p), createdAt, updatedAt);
    }
}
