package io.pipefill.controlplane.deployment;

import java.util.List;
import java.util.UUID;

/**
 * Every rank of a {@code chunking: planned} deployment without a given calibration has loaded its shard; the
 * deployment stays LOADING until a calibration run with these chunk sizes has measured its chunk costs (the run
 * service runs it, fits the curves and makes the deployment READY, or FAILED naming what went wrong).
 */
public record ShardsLoaded(UUID deploymentId, List<Integer> calibrationChunks) {
}
