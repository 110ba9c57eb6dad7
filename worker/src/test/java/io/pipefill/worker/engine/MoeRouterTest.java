package io.pipefill.worker.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.model.MoeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Qwen3-MoE router against hand-computed softmax weights: order, ties, renormalisation. */
class MoeRouterTest {

    private static MoeRouter router(int experts, int k, boolean norm) {
        return new MoeRouter(new MoeConfig(experts, k, 8, norm, 1, List.of()));
    }

    @Test
    void picksTheLargestProbabilitiesInOrderWithSoftmaxWeights() {
        float[] logits = {0f, 2f, -1f, 1f};
        int[] chosen = new int[2];
        float[] w = new float[2];
        router(4, 2, false).route(logits, 0, chosen, w, 0);
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
        router(4, 2, true).route(logits, 0, chosen, w, 0);
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
        router(5, 2, true).route(logits, 0, chosen, w, 0);
        assertArrayEquals(new int[] {1, 2}, chosen);
        assertEquals(0.5f, w[0], 1e-7);
        assertEquals(0.5f, w[1], 1e-7);
        // all equal: the first k, each 1/experts before renormalisation
        router(4, 3, false).route(new float[] {1, 1, 1, 1}, 0, chosen = new int[3], w = new float[3], 0);
        assertArrayEquals(new int[] {0, 1, 2}, chosen);
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f}, w, 1e-7f);
    }

    @Test
    void routesRowsAtTheirOffsets() {
        float[] logits = {9, 9, 9, 0, 5, 1}; // row 0 ignored, row 1 at offset 3
        int[] chosen = {-1, -1, -1, -1};
        float[] w = new float[4];
        router(3, 2, true).route(logits, 3, chosen, w, 2);
        assertArrayEquals(new int[] {-1, -1, 1, 2}, chosen);
        assertEquals(1 / (1 + Math.exp(-4)), w[2], 1e-6);
    }
}
