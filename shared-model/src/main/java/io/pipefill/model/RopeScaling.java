package io.pipefill.model;

/**
 * RoPE frequency scaling ("rope_scaling" in config.json), of one of two kinds:
 * <ul>
 *   <li>{@code llama3}: long wavelengths are divided by {@code factor}, short ones kept, and the band between
 *       interpolated smoothly ({@code lowFreqFactor}, {@code highFreqFactor});</li>
 *   <li>{@code yarn} (DeepSeek-V3): each frequency is blended between interpolation (divided by {@code factor})
 *       and extrapolation (kept) by a linear ramp over the dimensions between the correction dimensions of
 *       {@code betaFast} and {@code betaSlow} rotations; cos and sin are scaled by
 *       mscale(factor, mscale) / mscale(factor, mscaleAllDim), and multi-head latent attention further
 *       multiplies its softmax scale by mscale(factor, mscaleAllDim)², with mscale(s, m) = 0.1·m·ln s + 1.</li>
 * </ul>
 * Fields a kind does not use are 0.
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings, double betaFast, double betaSlow, double mscale,
                          double mscaleAllDim) {

    public enum Type {
        LLAMA3("llama3"), YARN("yarn");

        private final String jsonName;

        Type(String jsonName) {
            this.jsonName = jsonName;
        }

        public String jsonName() {
            return jsonName;
        }
    }

    /** llama3 scaling. */
    public RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
        this(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings, 0, 0, 0, 0);
    }

    /** YaRN scaling. */
    public static RopeScaling yarn(double factor, int originalMaxPositionEmbeddings, double betaFast, double betaSlow,
                                   double mscale, double mscaleAllDim) {
        return new RopeScaling(Type.YARN, factor, 0, 0, originalMaxPositionEmbeddings, betaFast, betaSlow, mscale,
                mscaleAllDim);
    }

    public RopeScaling {
        if (!(factor >= 1.0)) {
            throw new IllegalArgumentException("rope_scaling.factor must be >= 1, got " + factor);
        }
        if (originalMaxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException(
                    "rope_scaling.original_max_position_embeddings must be positive, got " + originalMaxPositionEmbeddings);
        }
        if (type == Type.LLAMA3 && (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor))) {
            throw new IllegalArgumentException("rope_scaling needs 0 < low_freq_factor < high_freq_factor, got "
                    + lowFreqFactor + " and " + highFreqFactor);
        }
        if (type == Type.YARN) {
            if (!(betaFast > betaSlow) || !(betaSlow > 0)) {
                throw new IllegalArgumentException("rope_scaling (yarn) needs 0 < beta_slow < beta_fast, got beta_slow "
                        + betaSlow + " and beta_fast " + betaFast);
            }
            if (!(mscale >= 0) || !(mscaleAllDim >= 0) || Double.isInfinite(mscale) || Double.isInfinite(mscaleAllDim)) {
                throw new IllegalArgumentException("rope_scaling (yarn) mscale and mscale_all_dim must be finite numbers "
                        + ">= 0, got " + mscale + " and " + mscaleAllDim);
            }
        }
    }

    /** Applies llama3 scaling to one inverse frequency (radians per position). */
    public double scale(double invFreq) {
        if (type != Type.LLAMA3) {
            throw new IllegalStateException("scale(invFreq) is llama3 scaling; yarn scales by dimension (invFreq)");
        }
        double lowFreqWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
        double highFreqWavelen = originalMaxPositionEmbeddings / highFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highFreqWavelen) {
            return invFreq;
        }
        if (wavelen > lowFreqWavelen) {
            return invFreq / factor;
        }
        double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * invFreq / factor + smooth * invFreq;
    }

    /** The dim/2 inverse frequencies of a rotary dimension {@code dim} with base {@code theta}, scaled. */
    public double[] invFreq(double theta, int dim) {
        int half = dim / 2;
        double[] out = new double[half];
        if (type == Type.LLAMA3) {
            for (int i = 0; i < half; i++) {
                out[i] = scale(1.0 / Math.pow(theta, (2.0 * i) / dim));
            }
            return out;
        }
        double low = Math.max(Math.floor(correctionDim(betaFast, dim, theta)), 0);
        double high = Math.min(Math.ceil(correctionDim(betaSlow, dim, theta)), dim - 1);
        if (low == high) {
            high += 0.001; // as the reference implementations do, so the ramp never divides by zero
        }
        for (int i = 0; i < half; i++) {
            double extrapolated = 1.0 / Math.pow(theta, (2.0 * i) / dim);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double keep = 1 - ramp; // 1: the frequency is kept (extrapolated), 0: divided by the factor
            out[i] = extrapolated / factor * (1 - keep) + extrapolated * keep;
        }
        return out;
    }

    /** The dimension whose wavelength makes {@code rotations} turns over the original context. */
    private double correctionDim(double rotations, int dim, double theta) {
        return dim * Math.log(originalMaxPositionEmbeddings / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    /** What cos and sin are multiplied by: 1 for llama3. */
    public double cosSinFactor() {
        return type == Type.YARN ? mscale(factor, mscale) / mscale(factor, mscaleAllDim) : 1.0;
    }

    /** What multi-head latent attention multiplies its softmax scale by: 1 for llama3 or mscale_all_dim 0. */
    public double latentSoftmaxFactor() {
        if (type != Type.YARN || mscaleAllDim == 0) {
            return 1.0;
        }
        double m = mscale(factor, mscaleAllDim);
        return m * m;
    }

    private static double mscale(double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
    }
}
