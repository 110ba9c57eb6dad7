package io.pipefill.model.plan;

/** One measured P2P send of a chunk's activations ({@code tokens} tokens) between stages, inside or across nodes. */
public record SendSample(int tokens, double ms, boolean interNode) {
    public SendSample {
        if (tokens < 1 || !(ms > 0) || Double.isInfinite(ms)) {
            throw new IllegalArgumentException("send sample needs tokens ≥ 1 and ms > 0; got tokens=" + tokens + " ms=" + ms);
        }
    }
}
