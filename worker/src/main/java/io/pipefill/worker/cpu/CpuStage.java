package io.pipefill.worker.cpu;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.RotaryEmbedding;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.engine.TensorParallel;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** A stage computed in float32 on the CPU: BLAS for the projections and attention products, Java for the rest. */
final class CpuStage implements Stage {
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
    private final ForkJoinPool pool;
    private final int threads;
    private final float eps;
    private Buffers buffers;

    CpuStage(ModelConfig config, StageShard shard, TensorParallel tp, CpuWeights weights, int kvCapacity,
             ForkJoinPool pool, int threads) {
        this.config = config;
        this.shard = shard;
        this.tp = tp;
        this.heads = tp.count(config.numHeads());
        this.kvHeads = tp.count(config.numKvHeads());
        this.qDim = heads * config.headDim();
        this.kvDim = kvHeads * config.headDim();
        this.inter = tp.count(config.intermediateSize());
        this.weights = weights;
        this.pool = pool;
        this.threads = threads;
        this.eps = (float) config.rmsNormEps();
        this.rope = new RotaryEmbedding(config);
        this.cache = new KvCache(shard.layerCount(), kvHeads, config.headDim(), kvCapacity);
        this.attention = new CpuAttention(heads, kvHeads, config.headDim(), pool);
    }

    @Override
    public Activations allocate(int maxTokens) {
        return new CpuActivations(maxTokens, config.hiddenSize());
    }

    @Override
    public void embed(int[] tokens, int from, int n, Activations out) {
        if (weights.embedding == null) {
            throw new IllegalStateException("stage " + shard + " holds no embedding (only the first stage does)");
        }
        CpuActivations x = CpuActivations.of(out);
        x.checkRows(n);
        int h = config.hiddenSize();
        float[] row = new float[h];
        for (int t = 0; t < n; t++) {
            int id = tokens[from + t];
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at prompt position " + (from + t)
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
            weights.embedding.get((long) id * h, row, 0, h);
            x.data.put((long) t * h, row, 0, h);
        }
    }

    @Override
    public void forward(Activations activations, int position, int n) {
        CpuActivations x = CpuActivations.of(activations);
        x.checkRows(n);
        if (position != cache.length()) {
            throw new IllegalStateException("chunk at position " + position + " but the KV cache holds " + cache.length()
                    + " positions: chunks must arrive in order");
        }
        if (position + n > cache.capacity()) {
            throw new IllegalStateException("positions up to " + (position + n) + " exceed the KV cache capacity "
                    + cache.capacity());
        }
        Buffers b = buffers(n);
        RotaryEmbedding.Table table = rope.table(position, n);
        for (int l = 0; l < weights.layers.size(); l++) {
            layer(l, weights.layers.get(l), x.data, b, table, position, n);
        }
        cache.advanceTo(position + n);
    }

    private void layer(int l, CpuWeights.Layer w, NativeFloats x, Buffers b, RotaryEmbedding.Table table, int pos0, int n) {
        int h = config.hiddenSize();
        int d = config.headDim();
        int qkvWidth = qDim + 2 * kvDim;

        rmsNormRows(x, b.normed, n, h, w.inputNorm());
        Blas.linear(n, h, qkvWidth, b.normed.at(0), w.qkv().at(0), 0f, b.qkv.at(0));
        rows(n, t -> {
            float[] row = new float[qkvWidth];
            b.qkv.get((long) t * qkvWidth, row, 0, qkvWidth);
            if (w.qkvBias() != null) {
                VecMath.add(row, 0, w.qkvBias(), 0, qkvWidth);
            }
            for (int head = 0; head < heads; head++) {
                if (w.qNorm() != null) {
                    VecMath.rmsNorm(row, head * d, d, w.qNorm(), eps);
                }
                table.rotate(row, head * d, t);
            }
            for (int kh = 0; kh < kvHeads; kh++) {
                int kOff = qDim + kh * d;
                if (w.kNorm() != null) {
                    VecMath.rmsNorm(row, kOff, d, w.kNorm(), eps);
                }
                table.rotate(row, kOff, t);
                long at = (long) (pos0 + t) * d;
                cache.keys(l, kh).put(at, row, kOff, d);
                cache.values(l, kh).put(at, row, qDim + kvDim + kh * d, d);
            }
            b.q.put((long) t * qDim, row, 0, qDim);
        });
        Blas.setThreads(1);
        try {
            attention.run(b.q, cache, l, pos0, n, b.attn);
        } finally {
            Blas.setThreads(threads);
        }
        projectIntoResidual(n, qDim, b.attn, w.o(), x, b);
        if (w.oBias() != null) {
            addBiasRows(x, n, h, w.oBias());
        }
        rmsNormRows(x, b.normed, n, h, w.postNorm());
        Blas.linear(n, h, 2 * inter, b.normed.at(0), w.gateUp().at(0), 0f, b.gateUp.at(0));
        rows(n, t -> {
            float[] gu = new float[2 * inter];
            b.gateUp.get((long) t * 2 * inter, gu, 0, 2 * inter);
            VecMath.siluMul(gu, 0, gu, inter, gu, 0, inter);
            b.act.put((long) t * inter, gu, 0, inter);
        });
        projectIntoResidual(n, inter, b.act, w.down(), x, b);
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
        rows(n, t -> {
            float[] row = new float[h];
            x.get((long) t * h, row, 0, h);
            VecMath.add(row, 0, partial, t * h, h);
            x.put((long) t * h, row, 0, h);
        });
    }

    private void rmsNormRows(NativeFloats src, NativeFloats dst, int n, int h, float[] weight) {
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
        if (weights.lmHead == null) {
            throw new IllegalStateException("stage " + shard + " holds no lm_head (only the last stage does)");
        }
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
            buffers = new Buffers(n, config.hiddenSize(), qDim, kvDim, inter);
        }
        return buffers;
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
    public void close() {
        if (buffers != null) {
            buffers.close();
        }
        attention.close();
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
        final NativeFloats gateUp;
        final NativeFloats act;
        /** Partial projection outputs awaiting the tensor-parallel all-reduce. */
        final NativeFloats partial;
        private float[] partialHost;

        Buffers(int rows, int hidden, int qDim, int kvDim, int inter) {
            this.rows = rows;
            long r = rows;
            normed = new NativeFloats(r * hidden);
            qkv = new NativeFloats(r * (qDim + 2L * kvDim));
            q = new NativeFloats(r * qDim);
            attn = new NativeFloats(r * qDim);
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

        @Override
        public void close() {
            partial.close();
            normed.close();
            qkv.close();
            q.close();
            attn.close();
            gateUp.close();
            act.close();
        }
    }
}
