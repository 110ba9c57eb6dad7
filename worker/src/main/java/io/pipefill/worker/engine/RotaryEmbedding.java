package io.pipefill.worker.engine;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.RopeScaling;

/**
 * Rotary position embedding over a head's rotary dimensions ({@code head_dim}; with latent attention the
 * {@code qk_rope_head_dim} part). Two pairings: Hugging Face's "rotate_half" layout, where dimension i pairs with
 * i + d/2, and DeepSeek's interleaved one ({@code rope_interleave}), where 2i pairs with 2i + 1; both rotate pair
 * i by position · invFreq[i]. (DeepSeek's code de-interleaves q and k alike and then rotates half; attention
 * scores are dot products, which that common permutation leaves unchanged, so rotating the pairs in place is
 * the same attention.) Angles are computed in double precision so that long positions keep full accuracy;
 * YaRN scaling multiplies cos and sin by its attention factor.
 */
public final class RotaryEmbedding {
    private final int dim;
    private final double[] invFreq;
    private final double factor;
    private final boolean interleaved;

    public RotaryEmbedding(ModelConfig config) {
        this.dim = config.headDim();
        RopeScaling scaling = config.ropeScaling();
        if (scaling == null) {
            invFreq = new double[dim / 2];
            for (int i = 0; i < dim / 2; i++) {
                invFreq[i] = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / dim);
            }
        } else {
            invFreq = scaling.invFreq(config.ropeTheta(), dim);
        }
        this.factor = scaling == null ? 1.0 : scaling.cosSinFactor();
        this.interleaved = config.mla() != null && config.mla().ropeInterleave();
    }

    /** cos and sin for positions [position, position + n), each laid out [n][dim/2]. */
    public Table table(int position, int n) {
        int half = dim / 2;
        float[] cos = new float[n * half];
        float[] sin = new float[n * half];
        for (int t = 0; t < n; t++) {
            long p = (long) position + t;
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                cos[t * half + i] = (float) (Math.cos(angle) * factor);
                sin[t * half + i] = (float) (Math.sin(angle) * factor);
            }
        }
        return new Table(half, cos, sin, interleaved);
    }

    /** Precomputed angles for a run of positions. */
    public record Table(int half, float[] cos, float[] sin, boolean interleaved) {
        /** Rotates the rotary dimensions starting at {@code x[off]} for the {@code t}-th position of the table. */
        public void rotate(float[] x, int off, int t) {
            int base = t * half;
            int stride = interleaved ? 2 : 1;
            int partner = interleaved ? 1 : half;
            for (int i = 0; i < half; i++) {
                float c = cos[base + i];
                float s = sin[base + i];
                int a = off + i * stride;
                float x1 = x[a];
                float x2 = x[a + partner];
                x[a] = x1 * c - x2 * s;
                x[a + partner] = x2 * c + x1 * s;
            }
        }
    }
}
