package io.pipefill.model.sim;

/**
 * One stage's work on one chunk, in ms from the start of the prefill: the activations are ready at
 * {@code readyMs} (0 on stage 0, which embeds), compute runs [startMs, endMs), the send to the next stage
 * occupies its link [sendStartMs, sendEndMs) (both −1 on the last stage). A Gantt chart draws compute bars
 * per stage and send bars per link.
 */
public record StageStep(int stage, int chunk, int offset, int size, double readyMs, double startMs, double endMs,
                        double sendStartMs, double sendEndMs) {

    public double computeMs() {
        return endMs - startMs;
    }
}
