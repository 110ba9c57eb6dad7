package io.pipefill.model;

/**
 * Llama 3 style RoPE frequency scaling ("rope_scaling": {"rope_type": "llama3", ...}): long wavelengths are
 * divided by {@code factor}, short ones kept, and the band between is interpolated smoothly.
 */
public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {

    public RopeScaling {
        if (!(factor >= 1.0)) {
            throw new IllegalArgumentException("rope_scaling.factor must be >= 1, got " + factor);
        }
        if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)) {
            throw new IllegalArgumentException("rope_scaling needs 0 < low_freq_factor < high_freq_factor, got "
                    + lowFreqFactor + " and " + highFreqFactor);
        }
        if (originalMaxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException(
                    "rope_scaling.original_max_position_embeddings must be positive, got " + originalMaxPositionEmbeddings);
        }
    }

    /** Applies the scaling to one inverse frequency (radians per position). */
    public double scale(double invFreq) {
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
}
