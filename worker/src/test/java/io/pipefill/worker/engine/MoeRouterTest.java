package io.pipefill.worker.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.model.MoeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The routers against hand-computed weights: Qwen3-MoE's softmax top-k (order, ties, renormalisation) and
 * DeepSeek-V3's sigmoid group-limited top-k with the score correction (groups, masking, ties, scaling).
 */
class MoeRouterTest {

    private static MoeRouter router(int experts, int k, boolean norm) {
        return new MoeRouter(new MoeConfig(experts, k, 8, norm, 1, List.of()));
    }

    @Test
    void picksTheLargestProbabilitiesInOrderWithSoftmaxWeights() {
        float[] logits = {0f, 2f, -1f, 1f};
        int[] chosen = new int[2];
        float[] w = new float[2];
        router(4, 2, false).route(logits, 0, null, chosen, w, 0);
        assertArrayEquals(new int[] {1, 3}, chosen);
        double z = 1 + Math.exp(2) + Math.exp(-1) + Math.exp(1);
        assertEquals(Math.exp(2) / z, w[0], 1e-7);
        assertEquals(Math.exp(1) / z, w[1], 1e-7);
    }

    @Test
    void renormalisesTheChosenWeightsWhenAsked() {
        float[] logits = {0f, 2f, -1f, 1f};
        int[] chosen = new int[2];
        float[] w = new float[2];
        router(4, 2, true).route(logits, 0, null, chosen, w, 0);
        assertArrayEquals(new int[] {1, 3}, chosen);
        double s = Math.exp(2) + Math.exp(1);
        assertEquals(Math.exp(2) / s, w[0], 1e-7);
        assertEquals(Math.exp(1) / s, w[1], 1e-7);
        assertEquals(1.0, w[0] + w[1], 1e-7);
    }

    @Test
    void tiesGoToTheLowerExpertIndex() {
        // experts 1, 2 and 4 share the top logit: top-2 takes 1 and 2, in that order, with equal weights
        float[] logits = {0f, 3f, 3f, -2f, 3f};
        int[] chosen = new int[2];
        float[] w = new float[2];
        router(5, 2, true).route(logits, 0, null, chosen, w, 0);
        assertArrayEquals(new int[] {1, 2}, chosen);
        assertEquals(0.5f, w[0], 1e-7);
        assertEquals(0.5f, w[1], 1e-7);
        // all equal: the first k, each 1/experts before renormalisation
        router(4, 3, false).route(new float[] {1, 1, 1, 1}, 0, null, chosen = new int[3], w = new float[3], 0);
        assertArrayEquals(new int[] {0, 1, 2}, chosen);
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f}, w, 1e-7f);
    }

    @Test
    void routesRowsAtTheirOffsets() {
        float[] logits = {9, 9, 9, 0, 5, 1}; // row 0 ignored, row 1 at offset 3
        int[] chosen = {-1, -1, -1, -1};
        float[] w = new float[4];
        router(3, 2, true).route(logits, 3, null, chosen, w, 2);
        assertArrayEquals(new int[] {-1, -1, 1, 2}, chosen);
        assertEquals(1 / (1 + Math.exp(-4)), w[2], 1e-6);
    }

    private static MoeRouter deepseek(int experts, int k, int groups, int keptGroups, boolean norm, double scaling) {
        return new MoeRouter(new MoeConfig(experts, k, 8, norm, 1, List.of(),
                new MoeConfig.Routing(MoeConfig.Scoring.SIGMOID, groups, keptGroups, true, scaling), 1));
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** logit whose sigmoid is p. */
    private static float logit(double p) {
        return (float) Math.log(p / (1 - p));
    }

    @Test
    void sigmoidRoutingKeepsTheBestGroupsByTheirTwoBestScores() {
        // 3 groups of 2; group sums (of both members): g0 0.9+0.1=1.0, g1 0.6+0.6=1.2, g2 0.8+0.3=1.1; keep 2
        float[] logits = {logit(0.9), logit(0.1), logit(0.6), logit(0.6), logit(0.8), logit(0.3)};
        int[] chosen = new int[2];
        float[] w = new float[2];
        deepseek(6, 2, 3, 2, false, 1.0).route(logits, 0, new float[6], chosen, w, 0);
        // expert 0 (0.9, the best single score) is in the dropped group: 4 (0.8), then 2 (0.6, ties with 3)
        assertArrayEquals(new int[] {4, 2}, chosen);
        assertEquals(0.8, w[0], 1e-6);
        assertEquals(0.6, w[1], 1e-6);
    }

    @Test
    void theCorrectionBiasChangesTheSelectionButNotTheWeights() {
        float[] logits = {logit(0.7), logit(0.6), logit(0.5), logit(0.4)};
        int[] chosen = new int[2];
        float[] w = new float[2];
        MoeRouter r = deepseek(4, 2, 1, 1, false, 1.0);
        r.route(logits, 0, new float[] {0, 0, 0, 0}, chosen, w, 0);
        assertArrayEquals(new int[] {0, 1}, chosen);
        // a bias lifting expert 3 above the others: it is chosen first, with its own uncorrected score
        r.route(logits, 0, new float[] {0, 0, 0, 0.5f}, chosen, w, 0);
        assertArrayEquals(new int[] {3, 0}, chosen);
        assertEquals(0.4, w[0], 1e-6);
        assertEquals(0.7, w[1], 1e-6);
    }

    @Test
    void renormalisationAndScalingFactor() {
        float[] logits = {logit(0.7), logit(0.6), logit(0.5), logit(0.4)};
        int[] chosen = new int[2];
        float[] w = new float[2];
        deepseek(4, 2, 1, 1, true, 2.5).route(logits, 0, new float[4], chosen, w, 0);
        assertArrayEquals(new int[] {0, 1}, chosen);
        assertEquals(2.5 * 0.7 / 1.3, w[0], 1e-6);
        assertEquals(2.5 * 0.6 / 1.3, w[1], 1e-6);
        deepseek(4, 2, 1, 1, false, 2.5).route(logits, 0, new float[4], chosen, w, 0);
        assertEquals(2.5 * 0.7, w[0], 1e-6);
        assertEquals(2.5 * 0.6, w[1], 1e-6);
    }

    @Test
    void expertsOfADroppedGroupAreMaskedToZeroAndCanStillWinOverNegativeOnes() {
        // group 1 (experts 2, 3) is dropped; the kept group's corrected values are negative, so the masked
        // experts' 0.0 beats them, as Hugging Face's masked_fill(0.0) makes it
        float[] logits = {logit(0.1), logit(0.2), logit(0.9), logit(0.8)};
        float[] bias = {-0.5f, -0.5f, 0f, 0f};
        int[] chosen = new int[1];
        float[] w = new float[1];
        // group sums: g0 (0.1-0.5)+(0.2-0.5) = -0.7, g1 1.7: g1 kept, and its best expert chosen
        deepseek(4, 1, 2, 1, false, 1.0).route(logits, 0, bias, chosen, w, 0);
        assertArrayEquals(new int[] {2}, chosen);
        // a bias pushing group 1 out: g1 (0.9-2)+(0.8-2) = -2.3 < g0 (0.1-0.4)+(0.2-0.3) = -0.4: g0 kept, its
        // corrected values -0.3 and -0.1
        float[] drop = {-0.4f, -0.3f, -2f, -2f};
        deepseek(4, 1, 2, 1, false, 1.0).route(logits, 0, drop, chosen, w, 0);
        // masked experts 2 and 3 hold 0.0 > -0.1 (expert 1: 0.2 - 0.3): the lower masked index wins
        assertArrayEquals(new int[] {2}, chosen);
        assertEquals(0.9, w[0], 1e-6);
    }

    @Test
    void sigmoidTiesGoToTheLowerIndexForGroupsAndExperts() {
        float[] logits = new float[8]; // every score 0.5: all groups tie, all experts tie
        int[] chosen = new int[3];
        float[] w = new float[3];
        deepseek(8, 3, 4, 2, false, 1.0).route(logits, 0, new float[8], chosen, w, 0);
        // groups 0 and 1 kept (experts 0-3), the first three of them
        assertArrayEquals(new int[] {0, 1, 2}, chosen);
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f}, w, 1e-7f);
    }
}
