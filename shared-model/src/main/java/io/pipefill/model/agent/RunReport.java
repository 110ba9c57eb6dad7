package io.pipefill.model.agent;

import java.util.Map;

/**
 * One report of a rank about a run, posted to the control plane. {@code type} and {@code body} are those
 * of the pipeline's own reports: {@code chunking} (a ChunkingDecision), {@code progress}
 * ({request, chunk, chunks, done, total}), {@code result} (a RequestResult), {@code timeline}
 * ({rank, events: [StageEvent]}), then {@code done} ({rank}) or {@code error} ({rank, message}).
 * {@code seq} counts a rank's reports from 0 so that the receiver can drop a retried duplicate.
 */
public record RunReport(String workerId, int rank, long seq, String type, Map<String, Object> body) {
}
