package io.pipefill.model;

/**
 * f(l) = a·l² + b·l + c: the latency (ms) of prefilling l tokens from an empty cache, fitted by least
 * squares. The quadratic term is attention's growth with the prefix.
 */
public record LatencyFit(double a, double b, double c) {

    public double at(double l) {
        return a * l * l + b * l + c;
    }

    /**
     * Least-squares fit over (length, ms) samples. Requires a > 0 (otherwise chunk costs do not grow with the
     * prefix and dynamic chunking has nothing to equalise); clamps b to ≥ 0.
     *
     * @throws IllegalArgumentException with the reason, when the samples cannot give a usable fit
     */
    public static LatencyFit leastSquares(double[] lengths, double[] ms) {
        if (lengths.length != ms.length) {
            throw new IllegalArgumentException("lengths and timings differ in count");
        }
        long distinct = java.util.Arrays.stream(lengths).distinct().count();
        if (distinct < 3) {
            throw new IllegalArgumentException("a quadratic fit needs samples at 3 or more distinct lengths, got " + distinct);
        }
        // normal equations for [l², l, 1], in double; lengths scaled to keep them well-conditioned
        double scale = java.util.Arrays.stream(lengths).max().orElse(1);
        double[][] m = new double[3][4];
        for (int i = 0; i < lengths.length; i++) {
            double x = lengths[i] / scale;
            double[] row = {x * x, x, 1};
            for (int r = 0; r < 3; r++) {
                for (int col = 0; col < 3; col++) {
                    m[r][col] += row[r] * row[col];
                }
                m[r][3] += row[r] * ms[i];
            }
        }
        double[] sol = solve3(m);
        double a = sol[0] / (scale * scale);
        double b = sol[1] / scale;
        double c = sol[2];
        if (!(a > 0) || !Double.isFinite(a)) {
            throw new IllegalArgumentException(String.format(
                    "fitted quadratic term a = %.3g is not positive: latency does not grow super-linearly over the profile", a));
        }
        return new LatencyFit(a, Math.max(0, b), c);
    }

    private static double[] solve3(double[][] m) {
        for (int col = 0; col < 3; col++) {
            int pivot = col;
            for (int r = col + 1; r < 3; r++) {
                if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) {
                    pivot = r;
                }
            }
            double[] tmp = m[col];
            m[col] = m[pivot];
            m[pivot] = tmp;
            if (Math.abs(m[col][col]) < 1e-300) {
                throw new IllegalArgumentException("singular least-squares system");
            }
            for (int r = 0; r < 3; r++) {
                if (r != col) {
                    double f = m[r][col] / m[col][col];
                    for (int k = col; k < 4; k++) {
                        m[r][k] -= f * m[col][k];
                    }
                }
            }
        }
        return new double[] {m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]};
    }
}
