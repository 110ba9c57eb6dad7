package io.pipefill.worker.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.pipeline.SamplingSettings;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The last stage's token picking: greedy is the argmax, sampling follows softmax / top-k / top-p and its seed. */
class TokenSamplerTest {
    private static float[] logits(long seed, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            l[i] = (float) (r.nextGaussian() * 2);
        }
        return l;
    }

    @Test
    void temperatureZeroIsTheArgmaxWhateverTheOtherSettings() {
        for (long s = 0; s < 20; s++) {
            float[] l = logits(s, 1000);
            TokenSampler greedy = new TokenSampler(new SamplingSettings(0, 0.3, 5, s));
            assertEquals(Sampling.argmax(l), greedy.next(l));
        }
        float[] ties = {1, 3, 3, 2};
        assertEquals(1, new TokenSampler(SamplingSettings.GREEDY).next(ties), "the lower id wins a tie");
    }

    @Test
    void theSameSeedDrawsTheSameTokensAndAnotherSeedOthers() {
        SamplingSettings a = new SamplingSettings(1.0, 0.95, 50, 42);
        int[] first = draws(a, 50);
        assertArrayEquals(first, draws(a, 50));
        assertFalse(java.util.Arrays.equals(first, draws(new SamplingSettings(1.0, 0.95, 50, 43), 50)));
    }

    private static int[] draws(SamplingSettings s, int n) {
        TokenSampler t = new TokenSampler(s);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = t.next(logits(i, 500));
        }
        return out;
    }

    /** Frequencies over 200 000 draws against softmax(l / T) computed here, each within 5 standard errors. */
    @Test
    void drawsFollowTheSoftmaxAtTheTemperature() {
        float[] l = {2.0f, 1.0f, 0.5f, -1.0f, 0.0f};
        double t = 0.7;
        double[] p = new double[l.length];
        double z = 0;
        for (int i = 0; i < l.length; i++) {
            p[i] = Math.exp(l[i] / t);
            z += p[i];
        }
        int n = 200_000;
        int[] counts = new int[l.length];
        TokenSampler s = new TokenSampler(new SamplingSettings(t, 1, 0, 7));
        for (int i = 0; i < n; i++) {
            counts[s.next(l)]++;
        }
        for (int i = 0; i < l.length; i++) {
            double expected = p[i] / z;
            double se = Math.sqrt(expected * (1 - expected) / n);
            assertEquals(expected, (double) counts[i] / n, 5 * se, "token " + i);
        }
    }

    @Test
    void topKAndTopPKeepOnlyTheMostLikelyTokens() {
        float[] l = logits(3, 300);
        Integer[] byLogit = new Integer[l.length];
        for (int i = 0; i < l.length; i++) {
            byLogit[i] = i;
        }
        Arrays.sort(byLogit, (a, b) -> Float.compare(l[b], l[a]));
        Set<Integer> top5 = new HashSet<>(Arrays.asList(byLogit).subList(0, 5));
        TokenSampler k = new TokenSampler(new SamplingSettings(1.5, 1, 5, 1));
        for (int i = 0; i < 2000; i++) {
            int t = k.next(l);
            assertTrue(top5.contains(t), "token " + t + " is not among the top 5");
        }
        // the nucleus, computed here: the most likely tokens until their probability reaches 0.5
        double z = 0;
        for (float v : l) {
            z += Math.exp(v);
        }
        Set<Integer> nucleus = new HashSet<>();
        double sum = 0;
        for (Integer id : byLogit) {
            nucleus.add(id);
            sum += Math.exp(l[id]) / z;
            if (sum >= 0.5) {
                break;
            }
        }
        Set<Integer> seen = new HashSet<>();
        TokenSampler p = new TokenSampler(new SamplingSettings(1, 0.5, 0, 2));
        for (int i = 0; i < 5000; i++) {
            seen.add(p.next(l));
        }
        assertEquals(nucleus, seen);
    }
}
