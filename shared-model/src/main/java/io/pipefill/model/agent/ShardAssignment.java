package io.pipefill.model.agent;

import java.util.List;

/**
 * Which shard a worker loads: the model directory (a path on the worker's host), the deployment's
 * PP × TP layout with layers per stage, this worker's rank, CPU threads for the stage and the KV capacity
 * in tokens (the longest prompt plus generated tokens a run on this deployment may have).
 */
public record ShardAssignment(String deploymentId, String modelDir, int pp, int tp, List<Integer> layersPerStage,
                              int rank, int threadsPerRank, int maxTokens) {
}
