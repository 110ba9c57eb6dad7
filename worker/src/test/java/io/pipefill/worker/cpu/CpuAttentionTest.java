package io.pipefill.worker.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/**
 * Blocked online-softmax attention against a plain double-precision softmax(QKᵀ/√d)·V with the causal mask
 * aligned bottom-right: chunks that start deep into the cache, span several key blocks and row tiles, and
 * use grouped query heads.
 */
class CpuAttentionTest {
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int D = 32;

    @Test
    void matchesNaiveAttention() {
        // (prefix, chunk): first chunk; a chunk after a prefix that is not block-aligned; a long tail
        int[][] cases = {{0, 300}, {517, 131}, {256, 1}, {1000, 40}};
        for (int threads : new int[] {1, 2}) {
            ForkJoinPool pool = threads > 1 ? new ForkJoinPool(threads) : null;
            Blas.setThreads(1);
            try {
                for (int[] c : cases) {
                    check(c[0], c[1], pool);
                }
            } finally {
                if (pool != null) {
                    pool.shutdown();
                }
            }
        }
    }

    private void check(int prefix, int n, ForkJoinPool pool) {
        int total = prefix + n;
        SplittableRandom rng = new SplittableRandom(prefix * 31L + n);
        float[] q = new float[n * HEADS * D];
        float[][] k = new float[KV_HEADS][total * D];
        float[][] v = new float[KV_HEADS][total * D];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) (rng.nextGaussian() * 1.5);
        }
        try (KvCache cache = KvCache.heads(1, KV_HEADS, D, total + 5);
             NativeFloats qn = new NativeFloats(q.length);
             NativeFloats out = new NativeFloats(q.length);
             CpuAttention attn = new CpuAttention(HEADS, KV_HEADS, D, pool)) {
            for (int h = 0; h < KV_HEADS; h++) {
                for (int i = 0; i < total * D; i++) {
                    k[h][i] = (float) (rng.nextGaussian() * 1.5);
                    v[h][i] = (float) rng.nextGaussian();
                }
                cache.keys(0, h).put(0, k[h], 0, total * D);
                cache.values(0, h).put(0, v[h], 0, total * D);
            }
            qn.put(0, q, 0, q.length);
            attn.run(qn, cache, 0, prefix, n, out);
            float[] got = new float[q.length];
            out.get(0, got, 0, q.length);

            double maxErr = 0;
            for (int t = 0; t < n; t++) {
                int pos = prefix + t;
                for (int h = 0; h < HEADS; h++) {
                    int kvh = h / (HEADS / KV_HEADS);
                    double[] s = new double[pos + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= pos; j++) {
                        double dot = 0;
                        for (int e = 0; e < D; e++) {
                            dot += q[(t * HEADS + h) * D + e] * (double) k[kvh][j * D + e];
                        }
                        s[j] = dot / Math.sqrt(D);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= pos; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int e = 0; e < D; e++) {
                        double o = 0;
                        for (int j = 0; j <= pos; j++) {
                            o += s[j] * v[kvh][j * D + e];
                        }
                        o /= sum;
                        maxErr = Math.max(maxErr, Math.abs(o - got[(t * HEADS + h) * D + e]));
                    }
                }
            }
            // outputs are O(1); float32 accumulation over ~1000 keys stays far below this
            assertTrue(maxErr < 2e-5, "prefix " + prefix + " chunk " + n + ": max abs error " + maxErr);
        }
    }
}
