package io.pipefill.worker.cpu;

import java.util.ArrayList;
import java.util.List;
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
    static final int ROW_TILE = 128;
    static final int KV_BLOCK = 256;

    private final int numHeads;
    private final int groupSize;
    private final int headDim;
    private final float scale;
    private final ForkJoinPool pool;
    private final ThreadLocal<Scratch> scratch;
    private final List<Scratch> allScratch = new ArrayList<>();

    CpuAttention(int numHeads, int numKvHeads, int headDim, ForkJoinPool pool) {
        this.numHeads = numHeads;
        this.groupSize = numHeads / numKvHeads;
        this.headDim = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.pool = pool;
        this.scratch = ThreadLocal.withInitial(() -> {
            Scratch s = new Scratch(headDim);
            synchronized (allScratch) {
                allScratch.add(s);
            }
            return s;
        });
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
        java.util.Arrays.fill(s.o, 0, rows * d, 0f);
        int limit = pos0 + r0 + rows; // keys [0, limit) are visible to the tile's last row
        var qTile = q.at((long) r0 * qStride + (long) head * d);
        for (int kb = 0; kb < limit; kb += KV_BLOCK) {
            int cnt = Math.min(KV_BLOCK, limit - kb);
            Blas.gemm(rows, cnt, d, scale, qTile, qStride, keys.at((long) kb * d), d, true, 0f, s.nativeScores.at(0), cnt);
            s.nativeScores.get(0, s.scores, 0, rows * cnt);
            for (int i = 0; i < rows; i++) {
                int base = i * cnt;
                int valid = Math.min(cnt, pos0 + r0 + i + 1 - kb); // causal: key position <= query position
                if (valid <= 0) {
                    java.util.Arrays.fill(s.scores, base, base + cnt, 0f);
                    s.corr[i] = 1f;
                    continue;
                }
                float blockMax = VecMath.max(s.scores, base, valid);
                float mOld = s.m[i];
                float mNew = Math.max(mOld, blockMax);
                float c = mOld == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(mOld - mNew);
                float sum = VecMath.expShiftSum(s.scores, base, valid, mNew);
                if (valid < cnt) {
                    java.util.Arrays.fill(s.scores, base + valid, base + cnt, 0f);
                }
                s.l[i] = s.l[i] * c + sum;
                s.m[i] = mNew;
                s.corr[i] = c;
            }
            s.nativeScores.put(0, s.scores, 0, rows * cnt);
            Blas.gemm(rows, d, cnt, 1f, s.nativeScores.at(0), cnt, values.at((long) kb * d), d, false, 0f,
                    s.nativeTile.at(0), d);
            s.nativeTile.get(0, s.tile, 0, rows * d);
            for (int i = 0; i < rows; i++) {
                VecMath.scaleAdd(s.o, i * d, s.corr[i], s.tile, i * d, d);
            }
        }
        for (int i = 0; i < rows; i++) {
            VecMath.scale(s.o, i * d, d, 1f / s.l[i]);
            out.put((long) (r0 + i) * qStride + (long) head * d, s.o, i * d, d);
        }
    }

    @Override
    public void close() {
        synchronized (allScratch) {
            allScratch.forEach(Scratch::close);
            allScratch.clear();
        }
    }

    /** Per-thread buffers: scores and the P·V tile in native memory for BLAS, their heap copies for Java. */
    private static final class Scratch implements AutoCloseable {
        final NativeFloats nativeScores = new NativeFloats((long) ROW_TILE * KV_BLOCK);
        final NativeFloats nativeTile;
        final float[] scores = new float[ROW_TILE * KV_BLOCK];
        final float[] tile;
        final float[] o;
        final float[] m = new float[ROW_TILE];
        final float[] l = new float[ROW_TILE];
        final float[] corr = new float[ROW_TILE];

        Scratch(int headDim) {
            nativeTile = new NativeFloats((long) ROW_TILE * headDim);
            tile = new float[ROW_TILE * headDim];
            o = new float[ROW_TILE * headDim];
        }

        @Override
        public void close() {
            nativeScores.close();
            nativeTile.close();
        }
    }
}
