package io.pipefill.model.agent;

import io.pipefill.model.pipeline.SamplingSettings;
import java.util.List;

/**
 * Starts one prefill run on every rank of a deployment: the prompt, how many tokens to generate, the
 * chunking settings and every rank's data endpoint (index = rank). Ranks report with {@link RunReport}s.
 *
 * @param chunk          the fixed chunk size, or the base size of dynamic chunking
 * @param sigma          smoothing of dynamic chunks toward {@code chunk}
 * @param peerTimeoutMs  the longest a rank waits on a peer before failing the run
 * @param dataSecret     the run's secret (32 random bytes, base64url) that every rank proves at its data port's
 *                       handshake, so that a port admits only this run's ranks; made per run by the control plane
 * @param sampling       how the last stage picks generated tokens; null (a start from before sampling existed) is greedy
 * @param chunkSchedule  explicit chunk sizes (a planned schedule, or a calibration run's mixed sizes) that the prompt
 *                       is cut into, the same on every rank, summing to the prompt's length; null for fixed or
 *                       dynamic chunks from {@code chunk} (then {@code chunk} is the schedule's largest chunk)
 */
public record RunStart(String runId, int[] tokens, int maxNewTokens, int chunk, boolean dynamic, double sigma,
                       List<DataEndpoint> peers, long peerTimeoutMs, String dataSecret, SamplingSettings sampling,
                       List<Integer> chunkSchedule) {
    /** A greedy run. */
    public RunStart(String runId, int[] tokens, int maxNewTokens, int chunk, boolean dynamic, double sigma,
                    List<DataEndpoint> peers, long peerTimeoutMs, String dataSecret) {
        this(runId, tokens, maxNewTokens, chunk, dynamic, sigma, peers, peerTimeoutMs, dataSecret, SamplingSettings.GREEDY);
    }

    /** Fixed or dynamic chunks (no explicit schedule). */
    public RunStart(String runId, int[] tokens, int maxNewTokens, int chunk, boolean dynamic, double sigma,
                    List<DataEndpoint> peers, long peerTimeoutMs, String dataSecret, SamplingSettings sampling) {
        this(runId, tokens, maxNewTokens, chunk, dynamic, sigma, peers, peerTimeoutMs, dataSecret, sampling, null);
    }

    /** The sampling settings, greedy when none were sent. */
    public SamplingSettings samplingOrGreedy() {
        return sampling == null ? SamplingSettings.GREEDY : sampling;
    }

    /** A fresh run secret: 32 random bytes, base64url without padding (what the worker's RunSecret reads). */
    public static String newDataSecret() {
        return io.pipefill.model.RandomTokens.next();
    }

    @Override
    public String toString() {
        // the secret never reaches a log line
        return "RunStart[runId=" + runId + ", tokens=" + (tokens == null ? 0 : tokens.length) + ", maxNewTokens="
                + maxNewTokens + ", chunk=" + chunk + ", dynamic=" + dynamic
                + (chunkSchedule == null ? "" : ", chunkSchedule=" + chunkSchedule.size() + " chunks") + ", sampling=" + sampling + ", peers=" + peers + "]";
    }
}
