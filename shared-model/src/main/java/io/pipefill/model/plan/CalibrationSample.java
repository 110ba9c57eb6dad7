package io.pipefill.model.plan;

/**
 * One measured chunk: a stage of {@code layers} decoder layers starting at {@code firstLayer}, split over
 * {@code tp} ranks, took {@code ms} to compute {@code chunk} tokens after {@code prefix}.
 */
public record CalibrationSample(int tp, int firstLayer, int layers, long prefix, int chunk, double ms) {
    public CalibrationSample {
        if (tp < 1 || firstLayer < 0 || layers < 1 || prefix < 0 || chunk < 1 || !(ms > 0) || Double.isInfinite(ms)) {
            throw new IllegalArgumentException(String.format("calibration sample needs tp ≥ 1, first_layer ≥ 0, layers ≥ 1,"
                    + " prefix ≥ 0, chunk ≥ 1 and ms > 0; got tp=%d first_layer=%d layers=%d prefix=%d chunk=%d ms=%s",
                    tp, firstLayer, layers, prefix, chunk, ms));
        }
    }
}
