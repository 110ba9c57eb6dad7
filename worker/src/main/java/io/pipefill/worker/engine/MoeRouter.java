package io.pipefill.worker.engine;

import io.pipefill.model.MoeConfig;

/**
 * Qwen3-MoE's router on one token's logits: softmax over every expert, the top-k by probability (the lowest
 * expert index first among equal probabilities, so ranks and backends agree), renormalised to sum to 1 when
 * {@code norm_topk_prob}. Backend-independent: the CPU calls it per row on the router GEMM's output.
 */
public final class MoeRouter {
    private final int experts;
    private final int topK;
    private final boolean normalise;

    public MoeRouter(MoeConfig moe) {
        this.experts = moe.numExperts();
        this.topK = moe.topK();
        this.normalise = moe.normTopkProb();
    }

    public int topK() {
        return topK;
    }

    /**
     * Routes the token whose logits are {@code logits[offset, offset + experts)}: writes its experts to
     * {@code chosen[out, out + topK)}, in decreasing weight, and their weights to {@code weights}. The softmax
     * runs in double (as HF runs it in float32 over bf16 logits: the reference precision here is float32 or better).
     */
    public void route(float[] logits, int offset, int[] chosen, float[] weights, int out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int e = 0; e < experts; e++) {
            max = Math.max(max, logits[offset + e]);
        }
        double sum = 0;
        for (int e = 0; e < experts; e++) {
            sum += Math.exp(logits[offset + e] - max);
        }
        double picked = 0;
        for (int k = 0; k < topK; k++) {
            int best = -1;
            float bestLogit = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < experts; e++) {
                // softmax is monotonic: the top-k probabilities are the top-k logits; strict > keeps the lowest index
                if ((best < 0 || logits[offset + e] > bestLogit) && !taken(chosen, out, k, e)) {
                    best = e;
                    bestLogit = logits[offset + e];
                }
            }
            chosen[out + k] = best;
            double p = Math.exp(bestLogit - max) / sum;
            weights[out + k] = (float) p;
            picked += p;
        }
        if (normalise) {
            for (int k = 0; k < topK; k++) {
                weights[out + k] = (float) (weights[out + k] / picked);
            }
        }
    }

    private static boolean taken(int[] chosen, int out, int count, int expert) {
        for (int i = 0; i < count; i++) {
            if (chosen[out + i] == expert) {
                return true;
            }
        }
        return false;
    }
}
