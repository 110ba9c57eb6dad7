package io.pipefill.model.plan;

import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.pipeline.Timeline;
import io.pipefill.model.sim.LinkTime;
import io.pipefill.model.sim.StageLatency;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularMatrixException;
import org.apache.commons.math3.stat.regression.OLSMultipleLinearRegression;

/**
 * Chunk costs fitted from an engine run's timeline (a calibration run), per stage:
 * t(prefix, n) = c₀ + c₁·n + c₂·n·prefix + c₃·n² ms — a fixed per-chunk cost, the GEMMs' linear term and
 * attention over the prefix and the chunk's own causal triangle — and the hidden-state send d₀ + d₁·n ms
 * (posted to completed). The calibration run should mix chunk sizes (an explicit schedule) so that the
 * fixed and linear terms separate. The fitted curves feed the simulator and the schedule optimiser.
 */
public record MeasuredChunkCosts(double[][] stageCoefficients, double sendFixedMs, double sendPerTokenMs,
                                 double rmsRelativeError) {
    /** Chunks a fit of four terms takes per stage. */
    static final int MIN_FITTED = 6;
    /**
     * Chunks a calibration run must hold for a fit: {@link #MIN_FITTED} on every stage once each stage's first
     * chunk (the warm-up) and the last stage's last chunk (it also computes the lm_head) are left out.
     */
    public static final int MIN_CALIBRATION_CHUNKS = MIN_FITTED + 2;

    /**
     * Fits request {@code request} of a run (TP rank 0 of each stage; stage 0's time includes the embedding), each
     * stage's first chunk and the last stage's last chunk left out.
     */
    public static MeasuredChunkCosts fit(Timeline t, int request) {
        List<StageEvent> events = t.prefill(request).stream().filter(e -> e.tpRank() == 0).toList();
        double[][] coef = new double[t.stages()][];
        double sq = 0;
        int count = 0;
        for (int s = 0; s < t.stages(); s++) {
            int stage = s;
            List<StageEvent> mine = events.stream().filter(e -> e.stage() == stage).toList();
            if (mine.size() < MIN_CALIBRATION_CHUNKS) {
                throw new IllegalArgumentException("stage " + s + " ran " + mine.size() + " chunks; a fit of four terms "
                        + "needs at least " + MIN_CALIBRATION_CHUNKS + " (its first chunk, the warm-up, and the last "
                        + "stage's last, which also computes the lm_head, are left out): calibrate on a longer prompt "
                        + "or smaller chunks");
            }
            // The first chunk also pays the first touch of the weights and the JIT's warm-up (on the CPU engine up to
            // 1.5× a later chunk of its size); kept in, it inflates the fixed per-chunk term. The last stage's last
            // chunk also runs the final norm and lm_head, which the simulator prices apart.
            mine = mine.subList(1, s == t.stages() - 1 ? mine.size() - 1 : mine.size());
            for (StageEvent e : mine) {
                if (!(ms(e) > 0)) {
                    throw new IllegalArgumentException("stage " + s + "'s chunk " + e.chunk() + " (" + e.size()
                            + " tokens at " + e.offset() + ") took " + ms(e) + " ms; a calibration needs positive times");
                }
            }
            // Least squares on relative errors (each row scaled by 1/measured): chunk times span two orders of
            // magnitude, and plain least squares fits the long chunks at the short ones' expense (on 2026-12-04 it
            // predicted 512-token chunks 9 % dearer than they ran), while their trade is what the optimiser decides.
            double[] y = new double[mine.size()];
            double[][] x = new double[mine.size()][];
            for (int i = 0; i < y.length; i++) {
                StageEvent e = mine.get(i);
                double measured = ms(e);
                double[] f = features(e.offset(), e.size());
                x[i] = new double[] {1 / measured, f[0] / measured, f[1] / measured, f[2] / measured};
                y[i] = 1;
            }
            coef[s] = nonNegativeLeastSquares(x, y);
            if (coef[s] == null) {
                throw new IllegalArgumentException("stage " + s + "'s chunk times give no fit; calibrate with chunks of "
                        + "several sizes, e.g. an explicit schedule");
            }
            for (StageEvent e : mine) {
                double r = (predict(coef[s], e.offset(), e.size()) - ms(e)) / ms(e);
                sq += r * r;
                count++;
            }
        }
        double d0 = 0;
        double d1 = 0;
        List<StageEvent> sends = events.stream().filter(e -> e.sendDoneMs() >= 0).toList();
        if (sends.size() >= 3) {
            double[] y = new double[sends.size()];
            double[][] x = new double[sends.size()][];
            for (int i = 0; i < y.length; i++) {
                y[i] = sends.get(i).sendDoneMs() - sends.get(i).sendPostedMs();
                x[i] = new double[] {sends.get(i).size()};
            }
            OLSMultipleLinearRegression ols = new OLSMultipleLinearRegression();
            ols.newSampleData(y, x);
            double[] b = ols.estimateRegressionParameters();
            d0 = Math.max(0, b[0]);
            d1 = Math.max(0, b[1]);
        }
        return new MeasuredChunkCosts(coef, d0, d1, Math.sqrt(sq / Math.max(1, count)));
    }

    /**
     * Least squares with every coefficient ≥ 0: each term is a cost (fixed, GEMMs, attention over the prefix and
     * within the chunk), and on a noisy machine an unconstrained fit can trade a negative term against another
     * until some chunk costs nothing or less, which the optimiser would then seek out. Exact for four terms: the
     * best unconstrained fit on every subset of the terms (the others held at 0) whose coefficients are all ≥ 0,
     * the least residual of those. Null when no subset gives a fit.
     */
    static double[] nonNegativeLeastSquares(double[][] x, double[] y) {
        int terms = x[0].length;
        double[] best = null;
        double bestResidual = Double.POSITIVE_INFINITY;
        for (int m = 1; m < 1 << terms; m++) {
            int mask = m;
            int[] cols = java.util.stream.IntStream.range(0, terms).filter(j -> (mask & 1 << j) != 0).toArray();
            if (cols.length >= y.length) {
                continue;
            }
            RealMatrix a = new Array2DRowRealMatrix(y.length, cols.length);
            for (int i = 0; i < y.length; i++) {
                for (int k = 0; k < cols.length; k++) {
                    a.setEntry(i, k, x[i][cols[k]]);
                }
            }
            double[] sub;
            try {
                sub = new QRDecomposition(a).getSolver().solve(new ArrayRealVector(y)).toArray();
            } catch (SingularMatrixException e) {
                continue;
            }
            if (Arrays.stream(sub).anyMatch(v -> !(v >= 0))) {
                continue;
            }
            double residual = a.operate(new ArrayRealVector(sub)).subtract(new ArrayRealVector(y)).getNorm();
            if (residual < bestResidual) {
                bestResidual = residual;
                best = new double[terms];
                for (int k = 0; k < cols.length; k++) {
                    best[cols[k]] = sub[k];
                }
            }
        }
        return best;
    }

    /** The time a stage spent on a chunk: its layers, and on stage 0 also the embedding before them. */
    public static double ms(StageEvent e) {
        return e.stage() == 0 ? e.computeStartMs() + e.computeMs() - e.startMs() : e.computeMs();
    }

    private static double[] features(long prefix, int n) {
        return new double[] {n, (double) n * prefix, (double) n * n};
    }

    private static double predict(double[] c, long prefix, int n) {
        double[] f = features(prefix, n);
        return c[0] + c[1] * f[0] + c[2] * f[1] + c[3] * f[2];
    }

    public StageLatency latency() {
        return (stage, prefix, n) -> Math.max(0, predict(stageCoefficients[stage], prefix, n));
    }

    public LinkTime link() {
        return (from, n) -> sendFixedMs + sendPerTokenMs * n;
    }

    public String describe() {
        StringBuilder b = new StringBuilder();
        for (int s = 0; s < stageCoefficients.length; s++) {
            double[] c = stageCoefficients[s];
            b.append(String.format("stage %d: %.3g + %.3g·n + %.3g·n·prefix + %.3g·n² ms; ", s, c[0], c[1], c[2], c[3]));
        }
        b.append(String.format("send %.3g + %.3g·n ms; rms error %.1f%%", sendFixedMs, sendPerTokenMs,
                100 * rmsRelativeError));
        return b.toString();
    }
}
