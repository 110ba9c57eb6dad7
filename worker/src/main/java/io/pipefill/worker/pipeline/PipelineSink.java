package io.pipefill.worker.pipeline;

import io.pipefill.model.pipeline.RankReport;

/**
 * Where a rank reports (see {@link RankReport} for what and in which order): the coordinator's control
 * connection, the in-process collector, or the agent's report sender to the control plane.
 */
@FunctionalInterface
public interface PipelineSink {
    void report(RankReport report);
}
