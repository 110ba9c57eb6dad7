package io.pipefill.model.plan;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LatencyFit;

/**
 * How the prompt is cut: fixed chunks of {@code base}, or dynamic chunking from {@code base} with smoothing
 * {@code sigma} and the fit of stage 0's profile. {@code fallbackReason} is set when dynamic chunking was asked
 * for but the profile gave no usable fit, so fixed chunks were used (as the engine does).
 */
public record ChunkingChoice(boolean dynamic, int base, double sigma, LatencyFit fit, String fallbackReason,
                             ChunkSchedule schedule) {

    public String describe() {
        if (dynamic) {
            return String.format("dynamic from %d, σ %.2f (%d chunks, last %d)", base, sigma, schedule.size(),
                    schedule.chunks().get(schedule.size() - 1).size());
        }
        return "fixed " + base + " (" + schedule.size() + " chunks)"
                + (fallbackReason != null ? ", dynamic chunking fell back: " + fallbackReason : "");
    }
}
