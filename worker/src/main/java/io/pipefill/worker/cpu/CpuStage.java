package io.pipefill.worker.cpu;

import io.pipefill.model.MlaConfig;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.AttentionUsage;
import io.pipefill.worker.engine.DecoderLayer;
import io.pipefill.worker.engine.LayerOps;
import io.pipefill.worker.engine.MoeRouter;
import io.pipefill.worker.engine.RotaryEmbedding;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.engine.StageChecks;
import io.pipefill.worker.model.TensorParallel;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * A stage computed in float32 on the CPU: BLAS for the projections and attention products, Java for the rest.
 * Its layers run through {@link DecoderLayer}; {@link ChunkOps} is how this backend computes each step.
 */
final class CpuStage implements Stage {
    /**
     * Latent attention's q_a_layernorm and kv_a_layernorm use RMSNorm's default eps whatever rms_norm_eps says:
     * both DeepSeek's and transformers' modelling code build them without passing the config's eps.
     */
    private static final float LATENT_NORM_EPS = 1e-6f;
    /** The attention implementation this backend reports (its only one). */
    static final String ATTENTION = "cpu";
    private final ModelConfig config;
    private final StageShard shard;
    private final TensorParallel tp;
    /** This rank's share of the heads and MLP features (all of them without tensor parallelism). */
    private final int heads;
    private final int kvHeads;
    private final int qDim;
    private final int kvDim;
    private final int inter;
    private final CpuWeights weights;
    private final KvCache cache;
    private final RotaryEmbedding rope;
    private final CpuAttention attention;
    /** Latent attention (DeepSeek-V3) in place of {@link #attention}; null for GQA models. */
    private final CpuLatentAttention latentAttention;
    private final MlaConfig mla;
    /** Width of the attention output this rank projects through o_proj: heads × head_dim, or heads × v_head_dim. */
    private final int attnDim;
    private final ForkJoinPool pool;
    private final int threads;
    private final float eps;
    private final DecoderLayer decoder;
    /** The router and this rank's width of each expert; null for a dense model. */
    private final MoeRouter router;
    private final int expertInter;
    /** This rank's width of the shared experts' SwiGLU (0 without shared experts). */
    private final int sharedInter;
    /** Always "cpu" (CpuAttention, or CpuLatentAttention for latent-attention models): the field is in every report. */
    private final AttentionUsage attentionUsage = new AttentionUsage(ATTENTION);
    private Buffers buffers;

    CpuStage(ModelConfig config, StageShard shard, TensorParallel tp, CpuWeights weights, int kvCapacity,
             ForkJoinPool pool, int threads) {
        this.config = config;
        this.shard = shard;
        this.tp = tp;
        this.heads = tp.count(config.numHeads());
        this.mla = config.mla();
        this.kvHeads = mla != null ? 0 : tp.count(config.numKvHeads());
        this.qDim = heads * (mla != null ? mla.qkHeadDim() : config.headDim());
        this.kvDim = kvHeads * config.headDim();
        this.attnDim = mla != null ? heads * mla.vHeadDim() : qDim;
        this.inter = tp.count(config.intermediateSize());
        this.weights = weights;
        this.pool = pool;
        this.threads = threads;
        this.eps = (float) config.rmsNormEps();
        this.decoder = new DecoderLayer(config, shard.firstLayer());
        this.router = config.moe() == null ? null : new MoeRouter(config.moe());
        this.expertInter = config.moe() == null ? 0 : tp.count(config.moe().expertIntermediateSize());
        this.sharedInter = config.moe() == null ? 0 : tp.count(config.moe().sharedIntermediateSize());
        this.rope = new RotaryEmbedding(config);
        if (mla != null) {
            // every tensor-parallel rank keeps the whole latent: all its heads read it
            this.cache = KvCache.latent(shard.layerCount(), mla.kvLoraRank(), mla.qkRopeHeadDim(), kvCapacity);
            this.attention = null;
            this.latentAttention = new CpuLatentAttention(heads, mla,
                    config.ropeScaling() == null ? 1.0 : config.ropeScaling().latentSoftmaxFactor(), pool);
        } else {
            this.cache = KvCache.heads(shard.layerCount(), kvHeads, config.headDim(), kvCapacity);
            this.attention = new CpuAttention(heads, kvHeads, config.headDim(), pool);
            this.latentAttention = null;
        }
    }

    @Override
    public Activations allocate(int maxTokens) {
        return new CpuActivations(maxTokens, config.hiddenSize());
    }

    @Override
    public void embed(int[] tokens, int from, int n, Activations out) {
        StageChecks.holdsEmbedding(weights.embedding != null, shard);
        CpuActivations x = CpuActivations.of(out);
        x.checkRows(n);
        StageChecks.tokensInVocabulary(tokens, from, n, config.vocabSize());
        int h = config.hiddenSize();
        float[] row = new float[h];
        for (int t = 0; t < n; t++) {
            int id = tokens[from + t];
            weights.embedding.get((long) id * h, row, 0, h);
            x.data.put((long) t * h, row, 0, h);
        }
    }

    @Override
    public void forward(Activations activations, int position, int n) {
        CpuActivations x = CpuActivations.of(activations);
        x.checkRows(n);
        StageChecks.chunkInOrder(position, n, cache.length(), cache.capacity());
        ChunkOps ops = new ChunkOps(x.data, buffers(n), rope.table(position, n), position, n);
        attentionUsage.beginChunk(position, n);
        try {
            for (int l = 0; l < weights.layers.size(); l++) {
                decoder.run(ops, l);
            }
        } finally {
            attentionUsage.endChunk();
        }
        cache.advanceTo(position + n);
    }

    /**
     * The layer steps over one chunk (rows [0, n) of x at positions [pos0, pos0 + n)). The row-local steps between
     * the q/k/v GEMM and the cache append (bias, q/k norm, RoPE) are only noted when called and run in one pass
     * over the rows by {@link #appendKv}, which also copies the q heads out for attention.
     */
    private final class ChunkOps implements LayerOps {
        private final NativeFloats x;
        private final Buffers b;
        private final RotaryEmbedding.Table table;
        private final int pos0;
        private final int n;
        /** The row-local steps noted since the last q/k/v GEMM: null / false for those not asked for. */
        private float[] qkvBias;
        private float[] qNorm;
        private float[] kNorm;
        private boolean rotate;

        ChunkOps(NativeFloats x, Buffers b, RotaryEmbedding.Table table, int pos0, int n) {
            this.x = x;
            this.b = b;
            this.table = table;
            this.pos0 = pos0;
            this.n = n;
        }

        @Override
        public void attentionNorm(int layer) {
            rmsNormRows(x, b.normed, n, config.hiddenSize(), weights.layers.get(layer).inputNorm());
        }

        @Override
        public void qkvProjection(int layer) {
            Blas.linear(n, config.hiddenSize(), qDim + 2 * kvDim, b.normed.at(0), weights.layers.get(layer).qkv().at(0),
                    0f, b.qkv.at(0));
            qkvBias = null;
            qNorm = null;
            kNorm = null;
            rotate = false;
        }

        @Override
        public void addQkvBias(int layer) {
            if (qNorm != null || rotate) {
                throw new IllegalStateException("the q/k/v bias comes before the q/k norm and RoPE");
            }
            qkvBias = present(weights.layers.get(layer).qkvBias(), "q/k/v bias", layer);
        }

        @Override
        public void qkNorm(int layer) {
            if (rotate) {
                throw new IllegalStateException("the q/k norm comes before RoPE");
            }
            CpuWeights.Layer w = weights.layers.get(layer);
            qNorm = present(w.qNorm(), "q norm", layer);
            kNorm = present(w.kNorm(), "k norm", layer);
        }

        @Override
        public void rope(int layer) {
            rotate = true;
        }

        /** One pass over the rows: the noted bias, q/k norm and RoPE, then k and v into the cache and q into b.q. */
        @Override
        public void appendKv(int layer) {
            int d = config.headDim();
            int qkvWidth = qDim + 2 * kvDim;
            float[] bias = qkvBias;
            float[] qn = qNorm;
            float[] kn = kNorm;
            boolean rot = rotate;
            rows(n, t -> {
                float[] row = new float[qkvWidth];
                b.qkv.get((long) t * qkvWidth, row, 0, qkvWidth);
                if (bias != null) {
                    VecMath.add(row, 0, bias, 0, qkvWidth);
                }
                for (int head = 0; head < heads; head++) {
                    if (qn != null) {
                        VecMath.rmsNorm(row, head * d, d, qn, eps);
                    }
                    if (rot) {
                        table.rotate(row, head * d, t);
                    }
                }
                for (int kh = 0; kh < kvHeads; kh++) {
                    int kOff = qDim + kh * d;
                    if (kn != null) {
                        VecMath.rmsNorm(row, kOff, d, kn, eps);
                    }
                    if (rot) {
                        table.rotate(row, kOff, t);
                    }
                    long at = (long) (pos0 + t) * d;
                    cache.keys(layer, kh).put(at, row, kOff, d);
                    cache.values(layer, kh).put(at, row, qDim + kvDim + kh * d, d);
                }
                b.q.put((long) t * qDim, row, 0, qDim);
            });
            qkvBias = null;
            qNorm = null;
            kNorm = null;
            rotate = false;
        }

        @Override
        public void attention(int layer) {
            Blas.setThreads(1);
            attentionUsage.layer(ATTENTION, null);
            try {
                attention.run(b.q, cache, layer, pos0, n, b.attn);
            } finally {
                Blas.setThreads(threads);
            }
        }

        @Override
        public void latentProjections(int layer) {
            CpuWeights.Latent w = present(weights.layers.get(layer).latent(), "latent attention", layer);
            int h = config.hiddenSize();
            if (mla.hasQLora()) {
                int r = mla.qLoraRank();
                Blas.linear(n, h, r, b.normed.at(0), w.qA().at(0), 0f, b.qa.at(0));
                rmsNormRows(b.qa, b.qa, n, r, w.qANorm(), LATENT_NORM_EPS);
                Blas.linear(n, r, qDim, b.qa.at(0), w.qB().at(0), 0f, b.q.at(0));
            } else {
                Blas.linear(n, h, qDim, b.normed.at(0), w.q().at(0), 0f, b.q.at(0));
            }
            Blas.linear(n, h, mla.compressedKvDim(), b.normed.at(0), w.kvA().at(0), 0f, b.qkv.at(0));
        }

        /** One pass over the rows: the latent's norm and the rotary key into the cache, RoPE on the query heads. */
        @Override
        public void appendLatent(int layer) {
            float[] norm = present(weights.layers.get(layer).latent(), "latent attention", layer).kvANorm();
            int rank = mla.kvLoraRank();
            int rope = mla.qkRopeHeadDim();
            int qk = mla.qkHeadDim();
            int width = mla.compressedKvDim();
            NativeFloats latent = cache.latent(layer);
            NativeFloats ropeKeys = cache.ropeKeys(layer);
            rows(n, t -> {
                float[] kv = new float[width];
                b.qkv.get((long) t * width, kv, 0, width);
                VecMath.rmsNorm(kv, 0, rank, norm, LATENT_NORM_EPS);
                table.rotate(kv, rank, t);
                latent.put((long) (pos0 + t) * rank, kv, 0, rank);
                ropeKeys.put((long) (pos0 + t) * rope, kv, rank, rope);
                float[] q = new float[qDim];
                b.q.get((long) t * qDim, q, 0, qDim);
                for (int head = 0; head < heads; head++) {
                    table.rotate(q, head * qk + mla.qkNopeHeadDim(), t);
                }
                b.q.put((long) t * qDim, q, 0, qDim);
            });
        }

        @Override
        public void latentAttention(int layer) {
            NativeFloats kvB = present(weights.layers.get(layer).latent(), "latent attention", layer).kvB();
            Blas.setThreads(1);
            attentionUsage.layer(ATTENTION, null);
            try {
                latentAttention.run(b.q, cache, layer, kvB, pos0, n, b.attn);
            } finally {
                Blas.setThreads(threads);
            }
        }

        @Override
        public void outputProjection(int layer) {
            projectIntoResidual(n, attnDim, b.attn, weights.layers.get(layer).o(), x, b);
        }

        @Override
        public void addOutputBias(int layer) {
            addBiasRows(x, n, config.hiddenSize(), present(weights.layers.get(layer).oBias(), "o_proj bias", layer));
        }

        @Override
        public void mlpNorm(int layer) {
            rmsNormRows(x, b.normed, n, config.hiddenSize(), weights.layers.get(layer).postNorm());
        }

        @Override
        public void mlp(int layer) {
            CpuWeights.Layer w = weights.layers.get(layer);
            Blas.linear(n, config.hiddenSize(), 2 * inter, b.normed.at(0), w.gateUp().at(0), 0f, b.gateUp.at(0));
            rows(n, t -> {
                float[] gu = new float[2 * inter];
                b.gateUp.get((long) t * 2 * inter, gu, 0, 2 * inter);
                VecMath.siluMul(gu, 0, gu, inter, gu, 0, inter);
                b.act.put((long) t * inter, gu, 0, inter);
            });
            projectIntoResidual(n, inter, b.act, w.down(), x, b);
        }

        /**
         * Routes every row, sorts the (row, expert) pairs by expert and gathers their rows into one matrix, so that
         * each expert is two GEMMs (fused gate/up, down) over its contiguous block of pairs. The experts run in
         * parallel, one per thread with single-threaded BLAS (as attention does): their GEMMs are small (about
         * chunk · top-k / experts rows), too small to split well inside BLAS, and each writes only its own block.
         * Each row then sums its top-k weighted outputs; the sums are all-reduced (tensor parallelism) and added
         * to x once. Experts no row chose cost nothing.
         */
        @Override
        public void moe(int layer) {
            CpuWeights.Moe w = present(weights.layers.get(layer).moe(), "mixture-of-experts MLP", layer);
            int h = config.hiddenSize();
            int experts = config.moe().numExperts();
            int k = router.topK();
            int ei = expertInter;
            MoeBuffers m = b.moe(h, experts, k, ei, sharedInter);
            Blas.linear(n, h, experts, b.normed.at(0), w.router().at(0), 0f, m.logits.at(0));
            m.logits.get(0, m.logitsHost, 0, n * experts);
            float[] correction = w.correctionBias();
            rows(n, t -> router.route(m.logitsHost, t * experts, correction, m.chosen, m.weights, t * k));
            // counting sort of the pairs by expert: slotOf[pair] is the pair's row in the gathered matrix
            int[] start = new int[experts + 1];
            for (int i = 0; i < n * k; i++) {
                start[m.chosen[i] + 1]++;
            }
            for (int e = 0; e < experts; e++) {
                start[e + 1] += start[e];
            }
            int[] fill = java.util.Arrays.copyOf(start, experts);
            for (int i = 0; i < n * k; i++) {
                m.slotOf[i] = fill[m.chosen[i]]++;
            }
            rows(n * k, i -> NativeFloats.copy(b.normed, (long) (i / k) * h, m.gathered, (long) m.slotOf[i] * h, h));
            Blas.setThreads(1);
            try {
                tasks(experts, e -> expert(w, e, start[e], start[e + 1] - start[e], m, h, ei));
            } finally {
                Blas.setThreads(threads);
            }
            float[] acc = b.partialHost(n * h);
            rows(n, t -> {
                float[] sum = new float[h];
                float[] out = new float[h];
                for (int j = 0; j < k; j++) {
                    m.out.get((long) m.slotOf[t * k + j] * h, out, 0, h);
                    VecMath.addScaled(sum, 0, out, 0, h, m.weights[t * k + j]);
                }
                System.arraycopy(sum, 0, acc, t * h, h);
            });
            if (w.sharedGateUp() != null) {
                sharedExperts(w, m, acc, h);
            }
            if (tp.size() > 1) {
                tp.allReduce().sum(acc, n * h);
            }
            addIntoResidual(n, acc, x);
        }

        /** acc += the shared experts' SwiGLU of every row (this rank's slice of their width). */
        private void sharedExperts(CpuWeights.Moe w, MoeBuffers m, float[] acc, int h) {
            int si = sharedInter;
            Blas.linear(n, h, 2 * si, b.normed.at(0), w.sharedGateUp().at(0), 0f, m.sharedGateUp.at(0));
            rows(n, t -> {
                float[] gu = new float[2 * si];
                m.sharedGateUp.get((long) t * 2 * si, gu, 0, 2 * si);
                VecMath.siluMul(gu, 0, gu, si, gu, 0, si);
                m.sharedAct.put((long) t * si, gu, 0, si);
            });
            Blas.linear(n, si, h, m.sharedAct.at(0), w.sharedDown().at(0), 0f, m.sharedOut.at(0));
            rows(n, t -> {
                float[] row = new float[h];
                m.sharedOut.get((long) t * h, row, 0, h);
                VecMath.add(acc, t * h, row, 0, h);
            });
        }

        /** Expert e over its gathered rows [first, first + count): out = down(SwiGLU(rows · [gate; up]ᵀ)). */
        private void expert(CpuWeights.Moe w, int e, int first, int count, MoeBuffers m, int h, int ei) {
            if (count == 0) {
                return;
            }
            Blas.linear(count, h, 2 * ei, m.gathered.at((long) first * h), w.gateUp().get(e).at(0), 0f,
                    m.gateUp.at((long) first * 2 * ei));
            float[] gu = new float[2 * ei];
            for (int i = first; i < first + count; i++) {
                m.gateUp.get((long) i * 2 * ei, gu, 0, 2 * ei);
                VecMath.siluMul(gu, 0, gu, ei, gu, 0, ei);
                m.act.put((long) i * ei, gu, 0, ei);
            }
            Blas.linear(count, ei, h, m.act.at((long) first * ei), w.down().get(e).at(0), 0f, m.out.at((long) first * h));
        }
    }

    /** A weight the architecture has; a step {@link DecoderLayer} asks for only then. */
    private static <T> T present(T weight, String what, int layer) {
        if (weight == null) {
            throw new IllegalStateException("layer " + layer + " has no " + what);
        }
        return weight;
    }

    /**
     * x += in · Wᵀ. Alone, the residual add is free (GEMM beta = 1). Under tensor parallelism each rank holds
     * a slice of W's input features, so the partial products are summed across the group first.
     */
    private void projectIntoResidual(int n, int in, NativeFloats input, NativeFloats w, NativeFloats x, Buffers b) {
        int h = config.hiddenSize();
        if (tp.size() == 1) {
            Blas.linear(n, in, h, input.at(0), w.at(0), 1f, x.at(0));
            return;
        }
        Blas.linear(n, in, h, input.at(0), w.at(0), 0f, b.partial.at(0));
        float[] partial = b.partialHost(n * h);
        b.partial.get(0, partial, 0, n * h);
        tp.allReduce().sum(partial, n * h);
        addIntoResidual(n, partial, x);
    }

    /** x[t] += sum[t] for the n rows: a tensor-parallel group's summed partial products into the residual. */
    private void addIntoResidual(int n, float[] sum, NativeFloats x) {
        int h = config.hiddenSize();
        rows(n, t -> {
            float[] row = new float[h];
            x.get((long) t * h, row, 0, h);
            VecMath.add(row, 0, sum, t * h, h);
            x.put((long) t * h, row, 0, h);
        });
    }

    private void rmsNormRows(NativeFloats src, NativeFloats dst, int n, int h, float[] weight) {
        rmsNormRows(src, dst, n, h, weight, eps);
    }

    private void rmsNormRows(NativeFloats src, NativeFloats dst, int n, int h, float[] weight, float eps) {
        rows(n, t -> {
            float[] row = new float[h];
            src.get((long) t * h, row, 0, h);
            VecMath.rmsNorm(row, 0, h, weight, eps);
            dst.put((long) t * h, row, 0, h);
        });
    }

    private void addBiasRows(NativeFloats x, int n, int h, float[] bias) {
        rows(n, t -> {
            float[] row = new float[h];
            x.get((long) t * h, row, 0, h);
            VecMath.add(row, 0, bias, 0, h);
            x.put((long) t * h, row, 0, h);
        });
    }

    /** Runs independent tasks [0, count) across the stage's threads, each with the calling convention of one thread. */
    private void tasks(int count, IntConsumer body) {
        if (threads == 1) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
        } else {
            pool.submit(() -> IntStream.range(0, count).parallel().forEach(body)).join();
        }
    }

    /** Runs a per-row body over rows [0, n), split across the stage's threads when there are enough rows. */
    private void rows(int n, IntConsumer body) {
        if (threads == 1 || n < 16) {
            for (int t = 0; t < n; t++) {
                body.accept(t);
            }
        } else {
            pool.submit(() -> IntStream.range(0, n).parallel().forEach(body)).join();
        }
    }

    @Override
    public float[] logits(Activations activations, int row) {
        StageChecks.holdsHead(weights.lmHead != null, shard);
        CpuActivations x = CpuActivations.of(activations);
        int h = config.hiddenSize();
        int vocab = config.vocabSize();
        float[] hidden = new float[h];
        x.data.get((long) row * h, hidden, 0, h);
        VecMath.rmsNorm(hidden, 0, h, weights.finalNorm, eps);
        try (NativeFloats in = new NativeFloats(h); NativeFloats out = new NativeFloats(vocab)) {
            in.put(0, hidden, 0, h);
            Blas.linear(1, h, vocab, in.at(0), weights.lmHead.at(0), 0f, out.at(0));
            float[] logits = new float[vocab];
            out.get(0, logits, 0, vocab);
            return logits;
        }
    }

    private Buffers buffers(int n) {
        if (buffers == null || buffers.rows < n) {
            if (buffers != null) {
                buffers.close();
            }
            // latent attention: qkv holds the compressed kv, qa the low-rank query
            int qkvWidth = mla != null ? mla.compressedKvDim() : qDim + 2 * kvDim;
            int qaWidth = mla != null && mla.hasQLora() ? mla.qLoraRank() : 1;
            buffers = new Buffers(n, config.hiddenSize(), qDim, qkvWidth, attnDim, qaWidth, anyDenseLayer() ? inter : 1);
        }
        return buffers;
    }

    /** Whether the stage has a dense MLP, whose buffers an all-sparse stage need not hold. */
    private boolean anyDenseLayer() {
        for (int l = shard.firstLayer(); l < shard.endLayer(); l++) {
            if (!config.isSparseLayer(l)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void resetCache() {
        cache.reset();
    }

    @Override
    public int cachedPositions() {
        return cache.length();
    }

    @Override
    public long weightBytes() {
        return weights.bytes();
    }

    @Override
    public long kvCacheBytes() {
        return cache.bytes();
    }

    @Override
    public AttentionUsage.Report attentionUsage() {
        return attentionUsage.report();
    }

    @Override
    public void close() {
        if (buffers != null) {
            buffers.close();
        }
        if (attention != null) {
            attention.close();
        }
        if (latentAttention != null) {
            latentAttention.close();
        }
        cache.close();
        weights.close();
    }

    /** Work buffers for one chunk of up to {@code rows} tokens, reused across chunks and layers. */
    private static final class Buffers implements AutoCloseable {
        final int rows;
        final NativeFloats normed;
        final NativeFloats qkv;
        final NativeFloats q;
        final NativeFloats attn;
        /** Latent attention's low-rank query (q_a_proj's output). */
        final NativeFloats qa;
        final NativeFloats gateUp;
        final NativeFloats act;
        /** Partial projection outputs awaiting the tensor-parallel all-reduce. */
        final NativeFloats partial;
        private float[] partialHost;
        private MoeBuffers moe;

        Buffers(int rows, int hidden, int qDim, int qkvWidth, int attnDim, int qaWidth, int inter) {
            this.rows = rows;
            long r = rows;
            normed = new NativeFloats(r * hidden);
            qkv = new NativeFloats(r * qkvWidth);
            q = new NativeFloats(r * qDim);
            attn = new NativeFloats(r * attnDim);
            qa = new NativeFloats(r * qaWidth);
            gateUp = new NativeFloats(r * 2L * inter);
            act = new NativeFloats(r * inter);
            partial = new NativeFloats(r * hidden);
        }

        float[] partialHost(int length) {
            if (partialHost == null || partialHost.length < length) {
                partialHost = new float[length];
            }
            return partialHost;
        }

        /** The sparse MLP's buffers, made on first use (a dense stage never has them). */
        MoeBuffers moe(int hidden, int experts, int topK, int expertInter, int sharedInter) {
            if (moe == null) {
                moe = new MoeBuffers(rows, hidden, experts, topK, expertInter, sharedInter);
            }
            return moe;
        }

        @Override
        public void close() {
            if (moe != null) {
                moe.close();
            }
            partial.close();
            normed.close();
            qkv.close();
            q.close();
            attn.close();
            qa.close();
            gateUp.close();
            act.close();
        }
    }

    /**
     * The sparse MLP's work buffers for up to {@code rows} tokens: the router's logits and choices, and every
     * (row, expert) pair's gathered input, gate/up, activation and output, sorted by expert.
     */
    private static final class MoeBuffers implements AutoCloseable {
        final NativeFloats logits;
        final float[] logitsHost;
        /** Per row, its top-k experts and weights at [row·k, row·k + k). */
        final int[] chosen;
        final float[] weights;
        /** Per pair (row · k + j), its place in the expert-sorted matrices below. */
        final int[] slotOf;
        final NativeFloats gathered;
        final NativeFloats gateUp;
        final NativeFloats act;
        final NativeFloats out;
        /** The shared experts' gate/up, activation and output per row (1-element stand-ins without them). */
        final NativeFloats sharedGateUp;
        final NativeFloats sharedAct;
        final NativeFloats sharedOut;

        MoeBuffers(int rows, int hidden, int experts, int topK, int expertInter, int sharedInter) {
            long r = rows;
            logits = new NativeFloats(r * experts);
            logitsHost = new float[rows * experts];
            chosen = new int[rows * topK];
            weights = new float[rows * topK];
            slotOf = new int[rows * topK];
            long pairs = r * topK;
            gathered = new NativeFloats(pairs * hidden);
            gateUp = new NativeFloats(pairs * 2L * expertInter);
            act = new NativeFloats(pairs * expertInter);
            out = new NativeFloats(pairs * hidden);
            boolean shared = sharedInter > 0;
            sharedGateUp = new NativeFloats(shared ? r * 2L * sharedInter : 1);
            sharedAct = new NativeFloats(shared ? r * sharedInter : 1);
            sharedOut = new NativeFloats(shared ? r * hidden : 1);
        }

        @Override
        public void close() {
            logits.close();
            gathered.close();
            gateUp.close();
            act.close();
            out.close();
            sharedGateUp.close();
            sharedAct.close();
            sharedOut.close();
        }
    }
}
