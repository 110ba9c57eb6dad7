package io.pipefill.model.sim;

import java.util.List;

/**
 * What a simulated prefill gives: TTFT (the last stage's last chunk plus the lm_head), throughput, per-stage
 * utilisation and the bubble ratio over the makespan (computed as the engine's and the control plane's are,
 * by {@link io.pipefill.model.pipeline.Timeline}), and the whole timeline.
 */
public record SimulationResult(int promptTokens, int stages, double ttftMs, double makespanMs, double headMs,
                               double[] stageUtilization, double bubbleRatio, List<StageStep> timeline) {

    public SimulationResult {
        stageUtilization = stageUtilization.clone();
        timeline = List.copyOf(timeline);
    }

    @Override
    public double[] stageUtilization() {
        return stageUtilization.clone();
    }

    public double prefillTokensPerSecond() {
        return ttftMs > 0 ? promptTokens / (ttftMs / 1000) : Double.POSITIVE_INFINITY;
    }

    public int chunks() {
        return (int) timeline.stream().filter(s -> s.stage() == 0).count();
    }

    /** The steps of one stage, in chunk order. */
    public List<StageStep> stage(int stage) {
        return timeline.stream().filter(s -> s.stage() == stage).toList();
    }
}
