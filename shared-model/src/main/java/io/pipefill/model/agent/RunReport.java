package io.pipefill.model.agent;

import io.pipefill.model.pipeline.RankReport;

/**
 * One report of a rank about a run, posted to the control plane: the pipeline's own {@link RankReport}
 * with who sent it. {@code seq} counts a rank's reports from 0 so that the receiver can drop a retried
 * duplicate.
 */
public record RunReport(String workerId, int rank, long seq, RankReport report) {
}
