package io.pipefill.model.pipeline;

import io.pipefill.model.LatencyFit;

/**
 * The chunking every rank uses, as agreed after the stage-0 profile: dynamic with a fit, or fixed — with
 * the reason when dynamic chunking was asked for but could not be used. The profile's timings (stage 0,
 * prefills from an empty cache) and its wall time (a start-up cost, outside the TTFT) are kept for reports.
 * Rank 0 reports it.
 */
public record ChunkingDecision(boolean dynamicRequested, int base, double sigma, LatencyFit fit, String fallbackReason,
                               double[] profileLengths, double[] profileMs, double profileWallMs) implements RankReport {

    @Override
    public String kind() {
        return "chunking";
    }

    public boolean dynamicUsed() {
        return dynamicRequested && fit != null;
    }
}
