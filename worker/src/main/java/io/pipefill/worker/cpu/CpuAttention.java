package io.pipefill.worker.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Causal attention of a chunk of queries against the KV cache (every earlier position plus the chunk
 * itself), blocked flash-style: for each tile of query rows it walks the keys in blocks with an online
 * softmax (running max and sum), so memory is O(tile × block), never O(prompt²). Both products are BLAS
 * GEMMs; only the softmax runs in Java (vectorised).
 *
 * <p>Work is split into (query head, row tile) tasks across the stage's threads, each calling
 * single-threaded BLAS: these GEMMs are too small to split well inside BLAS.
 */
final class CpuAttention implements AutoCloseable {
    static final int ROW_TILE = 256;
    static final int KV_BLOCK = 256;
    /** Natural-log margin before the running max is moved: e^8 ≈ 3000 keeps exp() far from overflow. */
    static final float RESCALE_THRESHOLD = 8f;

    private final int numHeads;
    private final int groupSize;
    private final int headDim;
    private final float scale;
    private final ForkJoinPool pool;
    private final PerThreadScratch<Scratch> scratch;

    CpuAttention(int numHeads, int numKvHeads, int headDim, ForkJoinPool pool) {
        this.numHeads = numHeads;
        this.groupSize = numHeads / numKvHeads;
        this.headDim = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.pool = pool;
        this.scratch = new PerThreadScratch<>(() -> new Scratch(headDim), Scratch::close);
    }

    /**
     * out[t, h·d : (h+1)·d] = softmax(q_t,h · K_{≤pos0+t}ᵀ / √d) · V for rows t in [0, n), where the cache
     * already holds positions [0, pos0 + n) of this layer.
     */
    void run(NativeFloats q, KvCache cache, int layer, int pos0, int n, NativeFloats out) {
        int tiles = (n + ROW_TILE - 1) / ROW_TILE;
        int tasks = numHeads * tiles;
        if (pool == null || tasks == 1) {
            for (int t = 0; t < tasks; t++) {
                task(t / tiles, t % tiles, q, cache, layer, pos0, n, out);
            }
        } else {
            pool.submit(() -> IntStream.range(0, tasks).parallel()
                    .forEach(t -> task(t / tiles, t % tiles, q, cache, layer, pos0, n, out))).join();
        }
    }

    private void task(int head, int tile, NativeFloats q, KvCache cache, int layer, int pos0, int n, NativeFloats out) {
        final int d = headDim;
        final int qStride = numHeads * d;
        Scratch s = scratch.get();
        int r0 = tile * ROW_TILE;
        int rows = Math.min(ROW_TILE, n - r0);
        int kvHead = head / groupSize;
        NativeFloats keys = cache.keys(layer, kvHead);
        NativeFloats values = cache.values(layer, kvHead);
        java.util.Arrays.fill(s.m, 0, rows, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(s.l, 0, rows, 0f);
        s.acc.zero(rows * d);
        int limit = pos0 + r0 + rows; // keys [0, limit) are visible to the tile's last row
        var qTile = q.at((long) r0 * qStride + (long) head * d);
        var acc = s.acc.at(0);
        for (int kb = 0; kb < limit; kb += KV_BLOCK) {
            int cnt = Math.min(KV_BLOCK, limit - kb);
            Blas.gemm(rows, cnt, d, scale, qTile, qStride, keys.at((long) kb * d), d, true, 0f, s.nativeScores.at(0), cnt);
            s.nativeScores.get(0, s.scores, 0, rows * cnt);
            for (int i = 0; i < rows; i++) {
                int base = i * cnt;
                int valid = Math.min(cnt, pos0 + r0 + i + 1 - kb); // causal: key position <= query position
                if (valid <= 0) {
                    java.util.Arrays.fill(s.scores, base, base + cnt, 0f);
                    continue;
                }
                float blockMax = VecMath.max(s.scores, base, valid);
                float mOld = s.m[i];
                // Lazy rescaling: keep the old reference max unless this block exceeds it by more than
                // RESCALE_THRESHOLD. exp(score - m) then stays below e^threshold (no overflow), and the
                // accumulator and the sum share the same reference, so the result is exact; the costly
                // rescale of the accumulator row becomes rare.
                if (blockMax > mOld + RESCALE_THRESHOLD) {
                    if (mOld != Float.NEGATIVE_INFINITY) {
                        float c = (float) Math.exp(mOld - blockMax);
                        s.l[i] *= c;
                        s.acc.get((long) i * d, s.row, 0, d);
                        VecMath.scale(s.row, 0, d, c);
                        s.acc.put((long) i * d, s.row, 0, d);
                    }
                    s.m[i] = blockMax;
                }
                s.l[i] += VecMath.expShiftSum(s.scores, base, valid, s.m[i]);
                if (valid < cnt) {
                    java.util.Arrays.fill(s.scores, base + valid, base + cnt, 0f);
                }
            }
            s.nativeScores.put(0, s.scores, 0, rows * cnt);
            Blas.gemm(rows, d, cnt, 1f, s.nativeScores.at(0), cnt, values.at((long) kb * d), d, false, 1f, acc, d);
        }
        s.acc.get(0, s.out, 0, rows * d);
        for (int i = 0; i < rows; i++) {
            VecMath.scale(s.out, i * d, d, 1f / s.l[i]);
            out.put((long) (r0 + i) * qStride + (long) head * d, s.out, i * d, d);
        }
    }

    @Override
    public void close() {
        scratch.close();
    }

    /** Per-thread buffers: scores and the output accumulator in native memory for BLAS, heap copies for Java. */
    private static final class Scratch implements AutoCloseable {
        final NativeFloats nativeScores = new NativeFloats((long) ROW_TILE * KV_BLOCK);
        /** P·V accumulates here through GEMM beta = 1, rows rescaled only when their max moves. */
        final NativeFloats acc;
        final float[] scores = new float[ROW_TILE * KV_BLOCK];
        final float[] out;
        final float[] row;
        final float[] m = new float[ROW_TILE];
        final float[] l = new float[ROW_TILE];

        Scratch(int headDim) {
            acc = new NativeFloats((long) ROW_TILE * headDim);
            out = new float[ROW_TILE * headDim];
            row = new float[headDim];
        }

        @Override
        public void close() {
            nativeScores.close();
            acc.close();
        }
    }
}
