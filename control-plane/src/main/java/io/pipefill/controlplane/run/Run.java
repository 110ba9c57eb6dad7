package io.pipefill.controlplane.run;

import io.pipefill.model.pipeline.StageEvent;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * One prefill run on a deployment and everything it produced: the chunk schedule the ranks ran, TTFT
 * (ms from the run clock's start to the last prompt position's logits), throughput (prompt tokens / TTFT),
 * the pipeline bubble, the per-stage timeline, the first and generated tokens, or the error; while it runs,
 * its progress through the prompt (null until the first chunk is through).
 */
public record Run(UUID id, UUID deploymentId, PromptKind promptKind, int promptTokens, int maxNewTokens,
                  List<Integer> chunkSchedule, RunState state, Double ttftMs, Double totalMs, Double tokensPerSecond,
                  Double bubbleRatio, List<StageEvent> timeline, Integer firstToken, List<Integer> generated,
                  String error, RunProgress progress, Instant submittedAt, Instant startedAt, Instant finishedAt) {
}
