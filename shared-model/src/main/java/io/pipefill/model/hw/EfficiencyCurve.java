package io.pipefill.model.hw;

import java.util.Arrays;

/**
 * A measured efficiency table: at size {@code x[i]} a kernel reaches {@code share[i]} of its large-size rate.
 * Between points the share is interpolated linearly in log x (kernel efficiency moves with the order of magnitude
 * of the size, not its absolute step); outside the table it is held at the end value, since nothing measured says
 * how it continues.
 */
public record EfficiencyCurve(double[] x, double[] share) {

    public EfficiencyCurve {
        if (x == null || share == null || x.length == 0 || x.length != share.length) {
            throw new IllegalArgumentException("an efficiency table needs as many shares as sizes, at least one");
        }
        for (int i = 0; i < x.length; i++) {
            if (!(x[i] > 0) || Double.isInfinite(x[i])) {
                throw new IllegalArgumentException("efficiency table sizes must be positive and finite, got " + x[i]);
            }
            if (i > 0 && !(x[i] > x[i - 1])) {
                throw new IllegalArgumentException("efficiency table sizes must increase, got " + Arrays.toString(x));
            }
            if (!(share[i] > 0 && share[i] <= 1)) {
                throw new IllegalArgumentException("efficiency table shares must be in (0, 1], got " + share[i]);
            }
        }
        x = x.clone();
        share = share.clone();
    }

    /** A table that is 1 everywhere (no shape effect). */
    public static EfficiencyCurve flat() {
        return new EfficiencyCurve(new double[] {1}, new double[] {1});
    }

    @Override
    public double[] x() {
        return x.clone();
    }

    @Override
    public double[] share() {
        return share.clone();
    }

    public double at(double size) {
        if (!(size > x[0])) {
            return share[0];
        }
        int last = x.length - 1;
        if (size >= x[last]) {
            return share[last];
        }
        int i = 1;
        while (x[i] < size) {
            i++;
        }
        double t = Math.log(size / x[i - 1]) / Math.log(x[i] / x[i - 1]);
        return share[i - 1] + t * (share[i] - share[i - 1]);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EfficiencyCurve c && Arrays.equals(x, c.x) && Arrays.equals(share, c.share);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(x) + Arrays.hashCode(share);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < x.length; i++) {
            b.append(i == 0 ? "" : ", ").append(String.format("%.0f→%.3f", x[i], share[i]));
        }
        return b.toString();
    }
}
