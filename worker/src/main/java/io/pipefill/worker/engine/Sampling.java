package io.pipefill.worker.engine;

import java.util.Comparator;
import java.util.stream.IntStream;

/** Greedy selection over logits. */
public final class Sampling {
    private Sampling() {
    }

    /** Index of the largest logit; the lowest index wins ties, as torch.argmax does. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    public record Scored(int token, float logit) {
    }

    public static Scored[] topK(float[] logits, int k) {
        return IntStream.range(0, logits.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -logits[i]).thenComparingInt(i -> i))
                .limit(k)
                .map(i -> new Scored(i, logits[i]))
                .toArray(Scored[]::new);
    }
}
