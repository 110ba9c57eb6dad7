package io.pipefill.model.pipeline;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.DynamicChunking;
import io.pipefill.model.LatencyFit;

/**
 * How the engine cuts a prompt into chunks, in one place for the engine, the planner and the simulator
 * (DESIGN.md, "Dynamic chunking"): the lengths stage 0 profiles, the fit with its fallback to fixed chunks,
 * the schedule every rank derives from the decision, the KV positions a stage must hold for it, and the
 * activation buffers a stage rotates (which bound the sends it may have in flight).
 */
public final class ChunkingPolicy {
    /** Fractions of the base chunk stage 0 profiles, after an untimed warm-up at 1.0. */
    private static final double[] PROFILE_FRACTIONS = {0.25, 0.5, 0.75, 1.0, 1.25};

    private ChunkingPolicy() {
    }

    /** The prompt lengths stage 0 times for a base chunk, in profile order. */
    public static int[] profileLengths(int base) {
        int[] lengths = new int[PROFILE_FRACTIONS.length];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = Math.max(1, (int) Math.round(base * PROFILE_FRACTIONS[i]));
        }
        return lengths;
    }

    /** The longest profiled prompt (1.25 × base, rounded up): stage 0's KV cache must hold it. */
    public static int maxProfileLength(int base) {
        return (int) Math.ceil(base * PROFILE_FRACTIONS[PROFILE_FRACTIONS.length - 1]);
    }

    /** Fixed chunks of {@code base}. */
    public static ChunkingDecision fixed(int base) {
        return new ChunkingDecision(false, base, 0, null, null, null, null, 0);
    }

    /** Dynamic chunking from a fit measured earlier (a calibration): no profile. */
    public static ChunkingDecision given(int base, double sigma, LatencyFit fit) {
        return new ChunkingDecision(true, base, sigma, fit, null, null, null, 0);
    }

    /**
     * Dynamic chunking from stage 0's profile: the least-squares fit of f(l) = a·l² + b·l + c, or, when no
     * usable fit comes out of it (a ≤ 0, too few points), fixed chunks with the reason.
     */
    public static ChunkingDecision fromProfile(int base, double sigma, double[] lengths, double[] ms, double profileWallMs) {
        try {
            return new ChunkingDecision(true, base, sigma, LatencyFit.leastSquares(lengths, ms), null, lengths.clone(),
                    ms.clone(), profileWallMs);
        } catch (IllegalArgumentException e) {
            return new ChunkingDecision(true, base, sigma, null, "latency fit failed (" + e.getMessage()
                    + "); fixed chunks used", lengths.clone(), ms.clone(), profileWallMs);
        }
    }

    /** The chunks every rank runs for a prompt under a decision: dynamic when its fit is usable, else fixed. */
    public static ChunkSchedule schedule(ChunkingDecision d, int promptTokens) {
        if (d.dynamicUsed()) {
            return new DynamicChunking(d.base(), d.sigma(), d.fit(), Math.max(d.base(), promptTokens),
                    DynamicChunking.alignmentFor(1)).schedule(promptTokens);
        }
        return ChunkSchedule.fixed(promptTokens, Math.min(d.base(), promptTokens));
    }

    /** KV positions one request needs: the prompt and every generated token but the last (whose K/V nobody reads). */
    public static int kvPositions(int promptTokens, int maxNewTokens) {
        return promptTokens + Math.max(0, maxNewTokens - 1);
    }

    /** KV positions a stage must hold: the longest request, and on stage 0 the profile when one will run. */
    public static int kvCapacity(int stage, int longestRequest, boolean profiles, int base) {
        return stage == 0 && profiles ? Math.max(longestRequest, maxProfileLength(base)) : longestRequest;
    }

    /**
     * Activation buffers a stage rotates: a buffer is received into, computed in place and sent from, so a
     * middle stage, which posts the next chunk's receive before computing this one, needs a third so that the
     * receive never lands in a buffer whose send may still be in flight.
     */
    public static int activationBuffers(int stage, int stages) {
        return stage > 0 && stage < stages - 1 ? 3 : 2;
    }

    /**
     * How many of its sends a stage may have in flight when it starts a chunk: chunk c waits for the send of
     * chunk c − window. Its buffers less the one held by the receive posted ahead (stages after the first);
     * 0 on the last stage, which sends nothing. The simulator applies it (PipelineSimulator.engine).
     */
    public static int sendWindow(int stage, int stages) {
        if (stage == stages - 1) {
            return 0;
        }
        return activationBuffers(stage, stages) - (stage > 0 ? 1 : 0);
    }
}
