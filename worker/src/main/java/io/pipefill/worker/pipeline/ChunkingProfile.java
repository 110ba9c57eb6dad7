package io.pipefill.worker.pipeline;

import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import java.util.SplittableRandom;

/**
 * Measures stage 0's prefill latency at the lengths {@link ChunkingPolicy#profileLengths} names (up to 1.25 ×
 * the base chunk), for the fit of dynamic chunking. Warm-up samples are dropped (a fresh JVM is still
 * compiling its hot loops), and each length is timed twice, keeping the faster: on a CPU the quadratic term
 * is a modest share of a short prefill and a single noisy sample can bend the fit.
 */
final class ChunkingProfile {
    private ChunkingProfile() {
    }

    /** Runs the profile on this stage (every rank of stage 0 calls it, so TP all-reduces line up). */
    static double[][] measure(Stage stage, int base, int vocab) {
        int max = ChunkingPolicy.maxProfileLength(base);
        int[] tokens = new SplittableRandom(42).ints(max, 0, vocab).toArray();
        int[] profiled = ChunkingPolicy.profileLengths(base);
        double[] lengths = new double[profiled.length];
        double[] ms = new double[profiled.length];
        try (Activations x = stage.allocate(max)) {
            time(stage, x, tokens, base); // warm-up samples, dropped
            time(stage, x, tokens, Math.max(1, base / 4));
            for (int i = 0; i < profiled.length; i++) {
                int l = profiled[i];
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
}
