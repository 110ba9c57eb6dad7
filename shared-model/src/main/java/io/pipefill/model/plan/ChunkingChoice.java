package io.pipefill.model.plan;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.pipeline.ChunkingDecision;

/**
 * How the planner would cut the prompt: the engine's own {@link ChunkingDecision} (fixed chunks of
 * {@code base}, or dynamic chunking from {@code base} with smoothing {@code sigma} and the fit of stage 0's
 * profile, or fixed chunks with the reason when that profile gave no usable fit, as the engine falls back)
 * and the schedule it gives for this prompt.
 */
public record ChunkingChoice(ChunkingDecision decision, ChunkSchedule schedule) {

    /** Dynamic chunking in use (asked for, with a usable fit). */
    public boolean dynamic() {
        return decision.dynamicUsed();
    }

    public int base() {
        return decision.base();
    }

    public double sigma() {
        return decision.sigma();
    }

    public LatencyFit fit() {
        return decision.fit();
    }

    public String fallbackReason() {
        return decision.fallbackReason();
    }

    public String describe() {
        if (dynamic()) {
            return String.format("dynamic from %d, σ %.2f (%d chunks, last %d)", base(), sigma(), schedule.size(),
                    schedule.chunks().get(schedule.size() - 1).size());
        }
        return "fixed " + base() + " (" + schedule.size() + " chunks)"
                + (fallbackReason() != null ? ", dynamic chunking fell back: " + fallbackReason() : "");
    }
}
