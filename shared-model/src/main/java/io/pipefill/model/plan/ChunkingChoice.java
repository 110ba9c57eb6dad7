package io.pipefill.model.plan;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.pipeline.ChunkingDecision;

/**
 * How the planner would cut the prompt: the engine's own {@link ChunkingDecision} (fixed chunks of
 * {@code base}, or dynamic chunking from {@code base} with smoothing {@code sigma} and the fit of stage 0's
 * profile, or fixed chunks with the reason when that profile gave no usable fit, as the engine falls back)
 * and the schedule it gives for this prompt. {@code planned}: the schedule was optimised as a whole
 * ({@link ChunkScheduleOptimizer}); the engine then runs it as an explicit schedule and the decision only names
 * its largest chunk.
 */
public record ChunkingChoice(ChunkingDecision decision, ChunkSchedule schedule, boolean planned) {

    public ChunkingChoice(ChunkingDecision decision, ChunkSchedule schedule) {
        this(decision, schedule, false);
    }

    /** An optimised schedule, run as given. */
    public static ChunkingChoice planned(ChunkSchedule schedule) {
        return new ChunkingChoice(io.pipefill.model.pipeline.ChunkingPolicy.fixed(schedule.maxChunkSize()), schedule,
                true);
    }

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
        if (planned) {
            return "planned (" + schedule.size() + " chunks: " + shape(schedule) + ")";
        }
        if (dynamic()) {
            return String.format("dynamic from %d, σ %.2f (%d chunks, last %d)", base(), sigma(), schedule.size(),
                    schedule.chunks().get(schedule.size() - 1).size());
        }
        return "fixed " + base() + " (" + schedule.size() + " chunks)"
                + (fallbackReason() != null ? ", dynamic chunking fell back: " + fallbackReason() : "");
    }

    /** The sizes, elided in the middle when there are many: 8192, 7680, 7168, …, 2048, 1536 (the shape). */
    public static String shape(ChunkSchedule s) {
        java.util.List<Integer> sizes = s.sizes();
        if (sizes.size() <= 8) {
            return String.join(", ", sizes.stream().map(String::valueOf).toList());
        }
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(String.valueOf(sizes.get(i)));
        }
        out.add("…");
        for (int i = sizes.size() - 3; i < sizes.size(); i++) {
            out.add(String.valueOf(sizes.get(i)));
        }
        return String.join(", ", out);
    }
}
