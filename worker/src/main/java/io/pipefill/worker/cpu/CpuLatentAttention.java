package io.pipefill.worker.cpu;

import io.pipefill.model.MlaConfig;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Causal multi-head latent attention of a chunk's queries against the latent KV cache. The cache holds, per
 * position, only the normalised latent (kv_lora_rank) and the rotated key shared by every head; each head's key
 * part without position and its value come from kv_b_proj. They are expanded one block of {@link #KV_BLOCK}
 * positions at a time (latent block · Wkv_b,headᵀ, one GEMM) and used at once with the same online softmax as
 * {@link CpuAttention}, so memory stays O(block), never O(prompt), and no expanded K or V outlives its block.
 * The block is laid out per position as [k_nope | k_rope | v], the shared rotary key copied beside each head's
 * expanded part, so that the scores are one GEMM over the whole query width (q_nope · k_nopeᵀ + q_rope · k_ropeᵀ
 * as one product of K = qk_nope + qk_rope) rather than two thinner ones.
 *
 * <p>Expanding per block repeats kv_b's product for every chunk that reads the prefix (2 · kv_lora_rank ·
 * (qk_nope + v) FLOPs per head, position and chunk); the alternative, absorbing kv_b into the query and output,
 * makes every score cost kv_lora_rank instead of qk_nope + qk_rope, which for long prefixes and chunks of
 * hundreds of tokens is the dearer of the two (SGLang and vLLM expand for prefill too).
 *
 * <p>Work is split by head across the stage's threads, each calling single-threaded BLAS; a head walks the
 * key blocks once and, for each, every row tile that can see it.
 */
final class CpuLatentAttention implements AutoCloseable {
    static final int ROW_TILE = CpuAttention.ROW_TILE;
    static final int KV_BLOCK = CpuAttention.KV_BLOCK;

    private final int heads;
    private final int nope;
    private final int rope;
    private final int v;
    private final int rank;
    private final float scale;
    private final ForkJoinPool pool;
    private final PerThreadScratch<Scratch> scratch;

    /**
     * @param heads         this rank's query heads
     * @param softmaxFactor what (qk_nope + qk_rope)^-½ is multiplied by (YaRN's mscale², else 1)
     */
    CpuLatentAttention(int heads, MlaConfig mla, double softmaxFactor, ForkJoinPool pool) {
        this.heads = heads;
        this.nope = mla.qkNopeHeadDim();
        this.rope = mla.qkRopeHeadDim();
        this.v = mla.vHeadDim();
        this.rank = mla.kvLoraRank();
        this.scale = (float) (softmaxFactor / Math.sqrt(mla.qkHeadDim()));
        this.pool = pool;
        this.scratch = new PerThreadScratch<>(() -> new Scratch(nope + rope + v, v, rope), Scratch::close);
    }

    /**
     * out[t, h·v : (h+1)·v] for rows t in [0, n): q holds the chunk's queries [n × heads·(nope + rope)] with
     * the rotary part already rotated, the cache positions [0, pos0 + n) of this layer, kvB this rank's rows of
     * kv_b_proj [heads·(nope + v) × kv_lora_rank].
     */
    void run(NativeFloats q, KvCache cache, int layer, NativeFloats kvB, int pos0, int n, NativeFloats out) {
        if (pool == null || heads == 1) {
            for (int h = 0; h < heads; h++) {
                head(h, q, cache, layer, kvB, pos0, n, out);
            }
        } else {
            pool.submit(() -> IntStream.range(0, heads).parallel()
                    .forEach(h -> head(h, q, cache, layer, kvB, pos0, n, out))).join();
        }
    }

    private void head(int head, NativeFloats q, KvCache cache, int layer, NativeFloats kvB, int pos0, int n,
                      NativeFloats out) {
        Scratch s = scratch.get();
        final int qk = nope + rope;
        final int qStride = heads * qk;
        final int oStride = heads * v;
        final int kvWidth = nope + v;
        final int blockWidth = nope + rope + v;
        float[] m = new float[n];
        float[] l = new float[n];
        java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
        float[] zero = new float[v];
        for (int t = 0; t < n; t++) {
            out.put((long) t * oStride + (long) head * v, zero, 0, v);
        }
        NativeFloats latent = cache.latent(layer);
        NativeFloats ropeKeys = cache.ropeKeys(layer);
        int limit = pos0 + n;
        for (int kb = 0; kb < limit; kb += KV_BLOCK) {
            int cnt = Math.min(KV_BLOCK, limit - kb);
            // this head's [k_nope | k_rope | v] for the block's positions: k_nope and v expanded from their latents
            // (kv_b's first nope rows of the head, then its v rows), the rotary key copied between them
            long headRows = (long) head * kvWidth;
            Blas.gemm(cnt, nope, rank, 1f, latent.at((long) kb * rank), rank, kvB.at(headRows * rank), rank, true, 0f,
                    s.expanded.at(0), blockWidth);
            Blas.gemm(cnt, v, rank, 1f, latent.at((long) kb * rank), rank, kvB.at((headRows + nope) * rank), rank, true,
                    0f, s.expanded.at(nope + rope), blockWidth);
            ropeKeys.get((long) kb * rope, s.ropeBlock, 0, cnt * rope);
            for (int j = 0; j < cnt; j++) {
                s.expanded.put((long) j * blockWidth + nope, s.ropeBlock, j * rope, rope);
            }
            int firstTile = Math.max(0, (kb - pos0) / ROW_TILE); // earlier tiles cannot see these keys
            for (int r0 = firstTile * ROW_TILE; r0 < n; r0 += ROW_TILE) {
                int rows = Math.min(ROW_TILE, n - r0);
                tile(s, head, r0, rows, kb, cnt, pos0, q, qStride, out, oStride, m, l);
            }
        }
        for (int t = 0; t < n; t++) {
            long at = (long) t * oStride + (long) head * v;
            out.get(at, s.row, 0, v);
            VecMath.scale(s.row, 0, v, 1f / l[t]);
            out.put(at, s.row, 0, v);
        }
    }

    /** One row tile against one expanded key block: scores, online softmax update, P · V into the output rows. */
    private void tile(Scratch s, int head, int r0, int rows, int kb, int cnt, int pos0, NativeFloats q, int qStride,
                      NativeFloats out, int oStride, float[] m, float[] l) {
        int blockWidth = nope + rope + v;
        var qTile = q.at((long) r0 * qStride + (long) head * (nope + rope));
        Blas.gemm(rows, cnt, nope + rope, scale, qTile, qStride, s.expanded.at(0), blockWidth, true, 0f,
                s.nativeScores.at(0), cnt);
        s.nativeScores.get(0, s.scores, 0, rows * cnt);
        for (int i = 0; i < rows; i++) {
            int t = r0 + i;
            int base = i * cnt;
            int valid = Math.min(cnt, pos0 + t + 1 - kb); // causal: key position <= query position
            if (valid <= 0) {
                java.util.Arrays.fill(s.scores, base, base + cnt, 0f);
                continue;
            }
            float blockMax = VecMath.max(s.scores, base, valid);
            // lazy rescaling, as in CpuAttention: the reference max moves only when a block exceeds it by the threshold
            if (blockMax > m[t] + CpuAttention.RESCALE_THRESHOLD) {
                if (m[t] != Float.NEGATIVE_INFINITY) {
                    float c = (float) Math.exp(m[t] - blockMax);
                    l[t] *= c;
                    long at = (long) t * oStride + (long) head * v;
                    out.get(at, s.row, 0, v);
                    VecMath.scale(s.row, 0, v, c);
                    out.put(at, s.row, 0, v);
                }
                m[t] = blockMax;
            }
            l[t] += VecMath.expShiftSum(s.scores, base, valid, m[t]);
            if (valid < cnt) {
                java.util.Arrays.fill(s.scores, base + valid, base + cnt, 0f);
            }
        }
        s.nativeScores.put(0, s.scores, 0, rows * cnt);
        Blas.gemm(rows, v, cnt, 1f, s.nativeScores.at(0), cnt, s.expanded.at(nope + rope), blockWidth, false, 1f,
                out.at((long) r0 * oStride + (long) head * v), oStride);
    }

    @Override
    public void close() {
        scratch.close();
    }

    /** Per-thread buffers: one expanded key/value block, a score tile in native memory for BLAS and its heap copy. */
    private static final class Scratch implements AutoCloseable {
        final NativeFloats expanded;
        final NativeFloats nativeScores = new NativeFloats((long) ROW_TILE * KV_BLOCK);
        final float[] scores = new float[ROW_TILE * KV_BLOCK];
        final float[] row;
        final float[] ropeBlock;

        Scratch(int blockWidth, int v, int rope) {
            expanded = new NativeFloats((long) KV_BLOCK * blockWidth);
            row = new float[v];
            ropeBlock = new float[KV_BLOCK * rope];
        }

        @Override
        public void close() {
            expanded.close();
            nativeScores.close();
        }
    }
}
