package io.pipefill.controlplane.run;

import io.pipefill.model.pipeline.StageEvent;
import java.util.List;

/** What a successful run produced, written to its record in one transaction. */
public record RunOutcome(List<Integer> chunkSchedule, double ttftMs, double totalMs, double tokensPerSecond,
                         double bubbleRatio, List<StageEvent> timeline, int firstToken, List<Integer> generated,
                         float[] lastLogits) {
}
