package io.pipefill.worker.pipeline;

import io.pipefill.model.LatencyFit;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import java.util.SplittableRandom;

/**
 * Measures stage 0's prefill latency at lengths up to 1.25 × the base chunk and fits f(l) = a·l² + b·l + c
 * for dynamic chunking. Warm-up samples are dropped (a fresh JVM is still compiling its hot loops), and
 * each length is timed twice, keeping the faster: on a CPU the quadratic term is a modest share of a
 * short prefill and a single noisy sample can bend the fit.
 */
final class ChunkingProfile {
    /** Fractions of the base chunk profiled, after a warm-up at 1.0. */
    static final double[] FRACTIONS = {0.25, 0.5, 0.75, 1.0, 1.25};

    private ChunkingProfile() {
    }

    static int maxProfileLength(int base) {
        return (int) Math.ceil(base * FRACTIONS[FRACTIONS.length - 1]);
    }

    /** Runs the profile on this stage (every rank of stage 0 calls it, so TP all-reduces line up). */
    static double[][] measure(Stage stage, int base, int vocab) {
        int max = maxProfileLength(base);
        int[] tokens = new SplittableRandom(42).ints(max, 0, vocab).toArray();
        double[] lengths = new double[FRACTIONS.length];
        double[] ms = new double[FRACTIONS.length];
        try (Activations x = stage.allocate(max)) {
            time(stage, x, tokens, base); // warm-up samples, dropped
            time(stage, x, tokens, Math.max(1, base / 4));
            for (int i = 0; i < FRACTIONS.length; i++) {
                int l = Math.max(1, (int) Math.round(base * FRACTIONS[i]));
                lengths[i] = l;
                ms[i] = Math.min(time(stage, x, tokens, l), time(stage, x, tokens, l));
            }
        }
        stage.resetCache();
        return new double[][] {lengths, ms};
    }

    private static double time(Stage stage, Activations x, int[] tokens, int length) {
        stage.resetCache();
        long t0 = System.nanoTime();
        stage.embed(tokens, 0, length, x);
        stage.forward(x, 0, length);
        return (System.nanoTime() - t0) / 1e6;
    }

    /** The fit, or null with the reason in {@code reason[0]}. */
    static LatencyFit fit(double[] lengths, double[] ms, String[] reason) {
        try {
            return LatencyFit.leastSquares(lengths, ms);
        } catch (IllegalArgumentException e) {
            reason[0] = "latency fit failed (" + e.getMessage() + "); fixed chunks used";
            return null;
        }
    }
}
