package io.pipefill.worker.engine;

import io.pipefill.model.pipeline.SamplingSettings;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks a request's generated tokens from the last position's logits, one call per token, as its
 * {@link SamplingSettings} say: the argmax when greedy ({@link Sampling#argmax}, unchanged), else a draw from
 * softmax(logits / temperature) restricted to the top-k tokens and then to the top-p nucleus (the most likely
 * tokens, in order, until their probability reaches top-p; ties broken by the lower token id). One random stream
 * per request, seeded by the settings: the same seed draws the same tokens from the same logits.
 */
public final class TokenSampler {
    private final SamplingSettings settings;
    private final SplittableRandom random;

    public TokenSampler(SamplingSettings settings) {
        this.settings = settings == null ? SamplingSettings.GREEDY : settings;
        this.random = new SplittableRandom(this.settings.seed());
    }

    public int next(float[] logits) {
        if (settings.greedy()) {
            return Sampling.argmax(logits);
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        // unnormalised probabilities, in double: exp of at most 0 never overflows
        double[] p = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp((logits[i] - max) / settings.temperature());
        }
        boolean filtered = settings.topK() > 0 && settings.topK() < logits.length || settings.topP() < 1;
        if (!filtered) {
            return draw(p, null, p.length);
        }
        int[] order = byProbability(p);
        int keep = settings.topK() > 0 ? Math.min(settings.topK(), order.length) : order.length;
        if (settings.topP() < 1) {
            double total = 0;
            for (int i = 0; i < keep; i++) {
                total += p[order[i]];
            }
            double reach = settings.topP() * total;
            double sum = 0;
            int n = 0;
            while (n < keep) {
                sum += p[order[n++]];
                if (sum >= reach) {
                    break;
                }
            }
            keep = n;
        }
        return draw(p, order, keep);
    }

    /** A token drawn in proportion to {@code p} from the first {@code n} of {@code order} (every token when null). */
    private int draw(double[] p, int[] order, int n) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += p[order == null ? i : order[i]];
        }
        double u = random.nextDouble() * total;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            int token = order == null ? i : order[i];
            sum += p[token];
            if (u < sum) {
                return token;
            }
        }
        return order == null ? n - 1 : order[n - 1]; // rounding left u at the very top
    }

    /**
     * Token ids by falling probability, the lower id first among equals: one primitive sort of (probability as
     * float bits, inverted id) keys, since positive floats order like their bit patterns.
     */
    static int[] byProbability(double[] p) {
        long[] keys = new long[p.length];
        for (int i = 0; i < p.length; i++) {
            keys[i] = ((long) Float.floatToIntBits((float) p[i]) << 32) | (Integer.MAX_VALUE - i);
        }
        Arrays.sort(keys);
        int[] order = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            order[i] = Integer.MAX_VALUE - (int) keys[p.length - 1 - i];
        }
        return order;
    }
}
