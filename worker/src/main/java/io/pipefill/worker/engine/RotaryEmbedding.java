package io.pipefill.worker.engine;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.RopeScaling;

/**
 * Rotary position embedding in the Hugging Face "rotate_half" layout: dimension i of a head pairs with
 * i + headDim/2. Angles are computed in double precision so that long positions keep full accuracy.
 */
public final class RotaryEmbedding {
    private final int headDim;
    private final double[] invFreq;

    public RotaryEmbedding(ModelConfig config) {
        this.headDim = config.headDim();
        int half = headDim / 2;
        this.invFreq = new double[half];
        RopeScaling scaling = config.ropeScaling();
        for (int i = 0; i < half; i++) {
            double f = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / headDim);
            invFreq[i] = scaling == null ? f : scaling.scale(f);
        }
    }

    /** cos and sin for positions [position, position + n), each laid out [n][headDim/2]. */
    public Table table(int position, int n) {
        int half = headDim / 2;
        float[] cos = new float[n * half];
        float[] sin = new float[n * half];
        for (int t = 0; t < n; t++) {
            long p = (long) position + t;
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        return new Table(half, cos, sin);
    }

    /** Precomputed angles for a run of positions. */
    public record Table(int half, float[] cos, float[] sin) {
        /** Rotates the head starting at {@code x[off]} for the {@code t}-th position of the table. */
        public void rotate(float[] x, int off, int t) {
            int base = t * half;
            for (int i = 0; i < half; i++) {
                float c = cos[base + i];
                float s = sin[base + i];
                float x1 = x[off + i];
                float x2 = x[off + i + half];
                x[off + i] = x1 * c - x2 * s;
                x[off + i + half] = x2 * c + x1 * s;
            }
        }
    }
}
