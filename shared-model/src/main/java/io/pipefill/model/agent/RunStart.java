package io.pipefill.model.agent;

import java.util.List;

/**
 * Starts one prefill run on every rank of a deployment: the prompt, how many tokens to generate, the
 * chunking settings and every rank's data endpoint (index = rank). Ranks report with {@link RunReport}s.
 *
 * @param chunk          the fixed chunk size, or the base size of dynamic chunking
 * @param sigma          smoothing of dynamic chunks toward {@code chunk}
 * @param peerTimeoutMs  the longest a rank waits on a peer before failing the run
 */
public record RunStart(String runId, int[] tokens, int maxNewTokens, int chunk, boolean dynamic, double sigma,
                       List<DataEndpoint> peers, long peerTimeoutMs) {
}
