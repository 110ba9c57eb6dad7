package io.pipefill.model.agent;

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
 */
public record RunStart(String runId, int[] tokens, int maxNewTokens, int chunk, boolean dynamic, double sigma,
                       List<DataEndpoint> peers, long peerTimeoutMs, String dataSecret) {
    /** A fresh run secret: 32 random bytes, base64url without padding (what the worker's RunSecret reads). */
    public static String newDataSecret() {
        return io.pipefill.model.RandomTokens.next();
    }

    @Override
    public String toString() {
        // the secret never reaches a log line
        return "RunStart[runId=" + runId + ", tokens=" + (tokens == null ? 0 : tokens.length) + ", maxNewTokens="
                + maxNewTokens + ", chunk=" + chunk + ", dynamic=" + dynamic + ", peers=" + peers + "]";
    }
}
