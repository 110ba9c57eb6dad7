package io.pipefill.worker.engine;

import io.pipefill.model.MoeConfig;

/**
 * The router on one token's logits, for both families. Backend-independent: the CPU calls it per row on the
 * router GEMM's output. Scores are computed in double (Hugging Face computes them in float32 over the logits:
 * the reference precision here is float32 or better). Among equal values the lowest index wins, for groups and
 * experts alike, so that ranks and backends agree.
 * <ul>
 *   <li>Qwen3-MoE (softmax): softmax over every expert, the top-k by probability, renormalised to sum to 1 when
 *       {@code norm_topk_prob}.</li>
 *   <li>DeepSeek-V3 (sigmoid, noaux_tc): score = sigmoid(logit); the selection value is the score plus the
 *       layer's {@code e_score_correction_bias}; each of {@code n_group} groups is ranked by the sum of its two
 *       best selection values and only the {@code topk_group} best groups stay; the experts of the other groups
 *       get the selection value 0 (as transformers masks them, so an allowed expert whose corrected score is
 *       negative can lose to a masked one); the top-k by selection value are chosen, and their weights are their
 *       uncorrected scores, divided by (their sum + 1e-20) when {@code norm_topk_prob}, times
 *       {@code routed_scaling_factor}.</li>
 * </ul>
 */
public final class MoeRouter {
    private final int experts;
    private final int topK;
    private final boolean normalise;
    private final MoeConfig.Routing routing;

    public MoeRouter(MoeConfig moe) {
        this.experts = moe.numExperts();
        this.topK = moe.topK();
        this.normalise = moe.normTopkProb();
        this.routing = moe.routing();
    }

    public int topK() {
        return topK;
    }

    /**
     * Routes the token whose logits are {@code logits[offset, offset + experts)}: writes its experts to
     * {@code chosen[out, out + topK)}, in decreasing selection value, and their weights to {@code weights}.
     * {@code correction} is the layer's score correction (sigmoid routing), null for softmax routing.
     */
    public void route(float[] logits, int offset, float[] correction, int[] chosen, float[] weights, int out) {
        if (routing.scoring() == MoeConfig.Scoring.SOFTMAX) {
            softmaxTopK(logits, offset, chosen, weights, out);
        } else {
            sigmoidGrouped(logits, offset, correction, chosen, weights, out);
        }
    }

    private void softmaxTopK(float[] logits, int offset, int[] chosen, float[] weights, int out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int e = 0; e < experts; e++) {
            max = Math.max(max, logits[offset + e]);
        }
        double sum = 0;
        double[] value = new double[experts];
        for (int e = 0; e < experts; e++) {
            value[e] = logits[offset + e]; // softmax is monotonic: the top-k probabilities are the top-k logits
            sum += Math.exp(logits[offset + e] - max);
        }
        topK(value, chosen, out);
        double picked = 0;
        for (int k = 0; k < topK; k++) {
            double p = Math.exp(logits[offset + chosen[out + k]] - max) / sum;
            weights[out + k] = (float) p;
            picked += p;
        }
        if (normalise) {
            for (int k = 0; k < topK; k++) {
                weights[out + k] = (float) (weights[out + k] / picked);
            }
        }
    }

    private void sigmoidGrouped(float[] logits, int offset, float[] correction, int[] chosen, float[] weights, int out) {
        if (routing.correctionBias() && correction == null) {
            throw new IllegalStateException("noaux_tc routing needs the layer's e_score_correction_bias");
        }
        double[] score = new double[experts];
        double[] select = new double[experts];
        for (int e = 0; e < experts; e++) {
            score[e] = 1.0 / (1.0 + Math.exp(-(double) logits[offset + e]));
            select[e] = score[e] + (correction == null ? 0 : correction[e]);
        }
        int groups = routing.groups();
        if (routing.topkGroups() < groups) {
            int perGroup = experts / groups;
            double[] groupValue = new double[groups];
            for (int g = 0; g < groups; g++) {
                double best = Double.NEGATIVE_INFINITY;
                double second = Double.NEGATIVE_INFINITY;
                for (int e = g * perGroup; e < (g + 1) * perGroup; e++) {
                    if (select[e] > best) {
                        second = best;
                        best = select[e];
                    } else if (select[e] > second) {
                        second = select[e];
                    }
                }
                groupValue[g] = best + second;
            }
            boolean[] kept = new boolean[groups];
            for (int i = 0; i < routing.topkGroups(); i++) {
                int bestGroup = -1;
                for (int g = 0; g < groups; g++) {
                    if (!kept[g] && (bestGroup < 0 || groupValue[g] > groupValue[bestGroup])) {
                        bestGroup = g;
                    }
                }
                kept[bestGroup] = true;
            }
            for (int e = 0; e < experts; e++) {
                if (!kept[e / perGroup]) {
                    select[e] = 0.0;
                }
            }
        }
        topK(select, chosen, out);
        double picked = 0;
        for (int k = 0; k < topK; k++) {
            picked += score[chosen[out + k]];
        }
        double scale = routing.scalingFactor() / (normalise ? picked + 1e-20 : 1.0);
        for (int k = 0; k < topK; k++) {
            weights[out + k] = (float) (score[chosen[out + k]] * scale);
        }
    }

    /** The topK largest values' indices into chosen[out, out + topK), largest first, the lowest index among equals. */
    private void topK(double[] value, int[] chosen, int out) {
        boolean[] taken = new boolean[experts];
        for (int k = 0; k < topK; k++) {
            int best = -1;
            for (int e = 0; e < experts; e++) {
                if (!taken[e] && (best < 0 || value[e] > value[best])) {
                    best = e;
                }
            }
            taken[best] = true;
            chosen[out + k] = best;
        }
    }
}
