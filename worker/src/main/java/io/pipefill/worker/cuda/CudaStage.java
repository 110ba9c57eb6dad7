package io.pipefill.worker.cuda;

import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.AttentionUsage;
import io.pipefill.worker.engine.DecoderLayer;
import io.pipefill.worker.engine.LayerOps;
import io.pipefill.worker.engine.RotaryEmbedding;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.engine.StageChecks;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.RandomWeights;
import io.pipefill.worker.model.WeightLayout;
import io.pipefill.model.safetensors.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * A stage on one GPU: BF16 weights, activations and KV cache in the device pool, FP32 arithmetic. Its layers
 * run through {@link DecoderLayer}, as CpuStage's do ({@link ChunkOps}: one GEMM or kernel launch per step; same
 * fused q/k/v and gate/up GEMMs, same tensor-parallel all-reduce points), with {@link StageChecks}' checks and
 * messages; the residual stream is stored in BF16 where CpuStage keeps float32.
 *
 * <p>Parity with CpuStage and with Hugging Face transformers is checked on a GPU by tools/gpu-check.
 */
final class CudaStage implements Stage {
    private static final long ABSENT = -1;
    /** The flash kernel works in base 2 (ex2.approx): scores are scaled by log2(e) / sqrt(headDim). */
    private static final double LOG2_E = 1.4426950408889634;

    /** Pool offsets of one layer's weights; ABSENT for what the architecture lacks. */
    private record Layer(long inputNorm, long qkv, long qkvBias, long qNorm, long kNorm, long o, long oBias,
                         long postNorm, long gateUp, long down, long keys, long values) {
    }

    /**
     * Sums {@code count} BF16 values at {@code offset} of {@code dev}'s pool over the stage's tensor-parallel group,
     * in place, after the work queued on {@code dev}'s stream; returns once the sum is there (bounded).
     */
    @FunctionalInterface
    interface DeviceAllReduce {
        void sumBf16InPlace(CudaDevice dev, long offset, long count);
    }

    private final CudaDevice dev;
    /** Null: tensor-parallel sums go through the host ({@code tp.allReduce()}). */
    private final DeviceAllReduce deviceAllReduce;
    private final ModelConfig config;
    private final StageShard shard;
    private final TensorParallel tp;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int qDim;
    private final int kvDim;
    private final int inter;
    private final int capacity;
    private final float eps;
    private final RotaryEmbedding rope;
    private final DecoderLayer decoder;
    /** flash_attention.cu's kernel for this layout; null: attention.cu's CUDA-core kernel. */
    private final String flashKernel;
    /** flash_attention_sm90.cu's kernel when -Dpipefill.cuda.attention=wgmma applies to this layout, else null. */
    private final String wgmmaKernel;
    /** Set when cuDNN's fused attention was chosen; owned (and closed) by this stage. */
    private final CudnnAttention cudnn;
    /** Why the requested wgmma kernel or the flash kernel is missing for this layout; null when it is there. */
    private final String wgmmaMissing;
    private final String flashMissing;
    /** What each chunk's attention ran on, against -Dpipefill.cuda.attention (the prefill JSON's "attention"). */
    private final AttentionUsage attentionUsage;
    private final List<Layer> layers = new ArrayList<>();
    private final List<Long> owned = new ArrayList<>();
    private long embedding = ABSENT;
    private long finalNorm = ABSENT;
    private long lmHead = ABSENT;
    /** FP32 RoPE tables [capacity][headDim/2] by position ({@link RopeTable}), filled once at load. */
    private long ropeCos = ABSENT;
    private long ropeSin = ABSENT;
    private final long weightBytes;
    private long kvBytes;
    private int length;
    private Buffers buffers;

    CudaStage(CudaDevice dev, ModelConfig config, StageShard shard, TensorParallel tp, WeightLayout.Stage layout,
              Checkpoint ckpt, int kvCapacity) {
        this(dev, null, config, shard, tp, layout, ckpt, kvCapacity);
    }

    CudaStage(CudaDevice dev, DeviceAllReduce deviceAllReduce, ModelConfig config, StageShard shard, TensorParallel tp,
              WeightLayout.Stage layout, Checkpoint ckpt, int kvCapacity) {
        this.dev = dev;
        this.deviceAllReduce = deviceAllReduce;
        this.config = config;
        this.shard = shard;
        this.tp = tp;
        this.heads = tp.count(config.numHeads());
        this.kvHeads = tp.count(config.numKvHeads());
        this.headDim = config.headDim();
        this.qDim = heads * headDim;
        this.kvDim = kvHeads * headDim;
        this.inter = tp.count(config.intermediateSize());
        this.capacity = kvCapacity;
        this.eps = (float) config.rmsNormEps();
        this.rope = new RotaryEmbedding(config);
        this.decoder = new DecoderLayer(config);
        AttentionChoice choice = AttentionChoice.fromSystemProperty();
        // cuDNN and wgmma fall back to the flash kernel for a shape they do not cover
        this.flashKernel = choice == AttentionChoice.CUDA_CORES ? null : LaunchGeometry.flashKernel(headDim, qDim + 2 * kvDim, qDim);
        this.wgmmaKernel = choice == AttentionChoice.WGMMA || choice == AttentionChoice.WGMMA_OVERLAP
                ? wgmmaKernel(dev, headDim, qDim + 2 * kvDim, qDim, choice == AttentionChoice.WGMMA_OVERLAP) : null;
        this.cudnn = choice == AttentionChoice.CUDNN ? new CudnnAttention(dev) : null;
        this.wgmmaMissing = (choice == AttentionChoice.WGMMA || choice == AttentionChoice.WGMMA_OVERLAP) && wgmmaKernel == null
                ? "no wgmma kernel for head dim " + headDim + " (it covers head dim " + LaunchGeometry.WGMMA_HEAD_DIM + ")" : null;
        this.flashMissing = choice != AttentionChoice.CUDA_CORES && flashKernel == null
                ? "no flash kernel for head dim " + headDim + " (row strides " + (qDim + 2 * kvDim) + ", " + qDim + ")" : null;
        this.attentionUsage = new AttentionUsage(choice.propertyValue());
        this.weightBytes = layout.bf16Bytes();
        try {
            upload(layout, ckpt);
        } catch (RuntimeException | OutOfMemoryError e) {
            close();
            throw e;
        }
    }

    private void upload(WeightLayout.Stage layout, Checkpoint ckpt) {
        if (layout.embedding() != null) {
            embedding = buffer(layout.embedding(), ckpt);
        }
        long cacheBytes = (long) kvHeads * capacity * headDim * 2;
        for (WeightLayout.Layer l : layout.layers()) {
            long keys = alloc(cacheBytes, "KV cache keys");
            long values = alloc(cacheBytes, "KV cache values");
            kvBytes += 2 * cacheBytes;
            layers.add(new Layer(buffer(l.inputNorm(), ckpt), buffer(l.qkv(), ckpt), buffer(l.qkvBias(), ckpt),
                    buffer(l.qNorm(), ckpt), buffer(l.kNorm(), ckpt), buffer(l.o(), ckpt), buffer(l.oBias(), ckpt),
                    buffer(l.postNorm(), ckpt), buffer(l.gateUp(), ckpt), buffer(l.down(), ckpt), keys, values));
        }
        if (layout.finalNorm() != null) {
            finalNorm = buffer(layout.finalNorm(), ckpt);
            lmHead = layout.lmHeadIsEmbedding() ? embedding : buffer(layout.lmHead(), ckpt);
        }
        if (!layers.isEmpty()) {
            uploadRopeTable();
        }
    }

    /** cos/sin for every position the KV cache can hold, computed on the host once: no chunk computes or uploads one. */
    private void uploadRopeTable() {
        long tableBytes = RopeTable.tableBytes(capacity, headDim);
        ropeCos = alloc(tableBytes, "RoPE cos table (" + capacity + " positions)");
        ropeSin = alloc(tableBytes, "RoPE sin table (" + capacity + " positions)");
        RopeTable.fill(rope, capacity, (first, slab) -> {
            long at = RopeTable.byteOffset(first, headDim);
            dev.uploadFloats(ropeCos + at, slab.cos(), slab.cos().length);
            dev.uploadFloats(ropeSin + at, slab.sin(), slab.sin().length);
        });
    }

    private long buffer(WeightLayout.Buffer b, Checkpoint ckpt) {
        if (b == null) {
            return ABSENT;
        }
        long off = alloc(b.bf16Bytes(), b.name());
        RandomWeights random = ckpt.randomWeights();
        if (random == null) {
            WeightLayout.pack(ckpt, b, (at, bf16, count) -> dev.uploadBf16(off, at, bf16, count));
        } else {
            fillRandom(random, b, off);
        }
        return off;
    }

    /** --random-weights: each block computed on the device (random_fill.cu), the values CpuStage would read. */
    private void fillRandom(RandomWeights random, WeightLayout.Buffer b, long off) {
        long at = 0;
        for (WeightLayout.Block block : b.blocks()) {
            long[] shape = block.tensor().shape();
            long tensorCols = shape.length == 1 ? shape[0] : shape[1];
            RandomWeights.Init init = random.init(block.tensor().name());
            int threads = LaunchGeometry.ELEMENTWISE_THREADS;
            // a grid-stride loop: a bounded grid covers even the 0.5G-element 8b-shape embedding
            int grid = (int) Math.min(LaunchGeometry.blocks(block.elements(), threads), 65536);
            dev.launch("fill_uniform_bf16", grid, 1, threads, dev.arg(off + at * 2), block.rowCount(), block.colCount(),
                    tensorCols, block.row0(), block.col0(), random.tensorSeed(block.tensor().name()), init.mean(),
                    init.halfWidth());
            at += block.elements();
        }
        dev.sync();
    }

    private long alloc(long bytes, String what) {
        long off = dev.pool.allocate(bytes, what);
        owned.add(off);
        return off;
    }

    @Override
    public Activations allocate(int maxTokens) {
        return new CudaActivations(dev, maxTokens, config.hiddenSize());
    }

    @Override
    public void embed(int[] tokens, int from, int n, Activations out) {
        StageChecks.holdsEmbedding(embedding != ABSENT, shard);
        CudaActivations x = CudaActivations.of(out);
        x.checkRows(n);
        StageChecks.tokensInVocabulary(tokens, from, n, config.vocabSize());
        Buffers b = buffers(n);
        dev.uploadInts(b.ids, tokens, from, n);
        int h = config.hiddenSize();
        dev.launch("embedding_gather", n, 1, LaunchGeometry.rowThreads(Math.min(h, 256)),
                dev.arg(b.ids), dev.arg(embedding), dev.arg(x.offset), n, h);
    }

    /**
     * With cuDNN attention: builds the plans of the run's chunk shapes now, before the run's clock, and pins them
     * (a plan takes ~40 ms; a 64K prompt in 8K chunks needs 8). Chunks past the KV capacity are left to
     * {@link #forward}'s error.
     */
    @Override
    public void prepare(List<ChunkSchedule> schedules) {
        if (cudnn == null) {
            return;
        }
        List<AttentionShape> shapes = new ArrayList<>();
        for (ChunkSchedule schedule : schedules) {
            for (Chunk ch : schedule.chunks()) {
                if ((long) ch.offset() + ch.size() <= capacity) {
                    shapes.add(AttentionShape.ofStage(heads, kvHeads, headDim, ch.size(), ch.offset(), capacity));
                }
            }
        }
        CudnnAttention.Prepared p = cudnn.prepare(shapes);
        if (p.built() > 0 || p.refused() > 0) {
            System.err.printf(java.util.Locale.ROOT, "cuDNN attention: %d plans built before the run in %.0f ms (%d chunk "
                    + "shapes, %d left to the fallback kernel)%n", p.built(), p.millis(), p.shapes(), p.refused());
        }
    }

    @Override
    public void forward(Activations activations, int position, int n) {
        CudaActivations x = CudaActivations.of(activations);
        x.checkRows(n);
        StageChecks.chunkInOrder(position, n, length, capacity);
        Buffers b = buffers(n);
        ChunkOps ops = new ChunkOps(x.offset, b, position, n);
        attentionUsage.beginChunk(position, n);
        try {
            for (int l = 0; l < layers.size(); l++) {
                decoder.run(ops, l);
            }
        } finally {
            attentionUsage.endChunk();
        }
        dev.sync();
        length = position + n;
    }

    /**
     * The layer steps over one chunk (rows [0, n) of x at positions [pos0, pos0 + n)), each one GEMM or kernel
     * launch (or a fixed pair) on the device's stream, queued in the order {@link DecoderLayer} calls them.
     */
    private final class ChunkOps implements LayerOps {
        private final long x;
        private final Buffers b;
        private final int pos0;
        private final int n;
        private final int h = config.hiddenSize();
        private final int qkvWidth = qDim + 2 * kvDim;
        private final int ew = LaunchGeometry.ELEMENTWISE_THREADS;

        ChunkOps(long x, Buffers b, int pos0, int n) {
            this.x = x;
            this.b = b;
            this.pos0 = pos0;
            this.n = n;
        }

        @Override
        public void attentionNorm(int layer) {
            Layer w = layers.get(layer);
            dev.launch("rms_norm", n, 1, LaunchGeometry.rowThreads(h), dev.arg(x), dev.arg(w.inputNorm()), dev.arg(b.normed), n, h, eps);
        }

        @Override
        public void qkvProjection(int layer) {
            Layer w = layers.get(layer);
            dev.linear(n, h, qkvWidth, b.normed, w.qkv(), false, b.qkv, false);
        }

        @Override
        public void addQkvBias(int layer) {
            Layer w = layers.get(layer);
            dev.launch("add_bias", LaunchGeometry.blocks((long) n * qkvWidth, ew), 1, ew,
                    dev.arg(b.qkv), dev.arg(present(w.qkvBias(), "q/k/v bias", layer)), n, qkvWidth, qkvWidth);
        }

        @Override
        public void qkNorm(int layer) {
            Layer w = layers.get(layer);
            long qNorm = present(w.qNorm(), "q norm", layer);
            long kNorm = present(w.kNorm(), "k norm", layer);
            int t = LaunchGeometry.rowThreads(headDim);
            dev.launch("head_rms_norm", n * heads, 1, t, dev.arg(b.qkv), dev.arg(qNorm), n, heads, headDim, qkvWidth, 0, eps);
            dev.launch("head_rms_norm", n * kvHeads, 1, t, dev.arg(b.qkv), dev.arg(kNorm), n, kvHeads, headDim, qkvWidth, qDim, eps);
        }

        @Override
        public void rope(int layer) {
            // q's heads and k's heads are adjacent in each row, so one launch rotates both; the tables are by position
            int ropeHeads = heads + kvHeads;
            dev.launch("rope", LaunchGeometry.blocks((long) n * ropeHeads * (headDim / 2), ew), 1, ew,
                    dev.arg(b.qkv), dev.arg(ropeCos), dev.arg(ropeSin), n, ropeHeads, headDim, qkvWidth, 0, pos0);
        }

        @Override
        public void appendKv(int layer) {
            Layer w = layers.get(layer);
            dev.launch("kv_append", LaunchGeometry.blocks((long) n * kvDim, ew), 1, ew, dev.arg(b.qkv), dev.arg(w.keys()),
                    dev.arg(w.values()), n, kvHeads, headDim, qkvWidth, qDim, qDim + kvDim, capacity, pos0);
        }

        @Override
        public void attention(int layer) {
            attend(layers.get(layer), b, pos0, n, qkvWidth);
        }

        @Override
        public void outputProjection(int layer) {
            projectIntoResidual(n, qDim, b.attn, layers.get(layer).o(), x, b);
        }

        @Override
        public void addOutputBias(int layer) {
            Layer w = layers.get(layer);
            dev.launch("add_bias", LaunchGeometry.blocks((long) n * h, ew), 1, ew, dev.arg(x),
                    dev.arg(present(w.oBias(), "o_proj bias", layer)), n, h, h);
        }

        @Override
        public void mlpNorm(int layer) {
            Layer w = layers.get(layer);
            dev.launch("rms_norm", n, 1, LaunchGeometry.rowThreads(h), dev.arg(x), dev.arg(w.postNorm()), dev.arg(b.normed), n, h, eps);
        }

        /** Never reached: {@link CudaBackend#checkSupported} refuses mixture-of-experts models before loading. */
        @Override
        public void moe(int layer) {
            throw new UnsupportedOperationException("the cuda backend has no mixture-of-experts MLP");
        }

        @Override
        public void latentProjections(int layer) {
            throw new UnsupportedOperationException("the cuda backend has no latent attention");
        }

        @Override
        public void appendLatent(int layer) {
            throw new UnsupportedOperationException("the cuda backend has no latent attention");
        }

        @Override
        public void latentAttention(int layer) {
            throw new UnsupportedOperationException("the cuda backend has no latent attention");
        }

        @Override
        public void mlp(int layer) {
            Layer w = layers.get(layer);
            dev.linear(n, h, 2 * inter, b.normed, w.gateUp(), false, b.gateUp, false);
            dev.launch("swiglu", LaunchGeometry.blocks((long) n * inter, ew), 1, ew, dev.arg(b.gateUp), dev.arg(b.act), n, inter);
            projectIntoResidual(n, inter, b.act, w.down(), x, b);
        }
    }

    /** A weight's pool offset; a step {@link DecoderLayer} asks for only when the architecture has the weight. */
    private static long present(long offset, String what, int layer) {
        if (offset == ABSENT) {
            throw new IllegalStateException("layer " + layer + " has no " + what);
        }
        return offset;
    }

    /** The wgmma kernel, compiled and loaded, for a Hopper device; an error naming the device elsewhere. */
    private static String wgmmaKernel(CudaDevice dev, int headDim, int qStride, int outStride, boolean overlap) {
        if (!KernelSources.ARCH_SPECIFIC.get(LaunchGeometry.WGMMA_SOURCE).arch().equals(dev.arch)) {
            throw new IllegalArgumentException("-Dpipefill.cuda.attention=" + (overlap ? "wgmma-overlap" : "wgmma")
                    + " needs a Hopper GPU (sm_90); this one is " + dev.arch + ": use flash (the default)");
        }
        String kernel = LaunchGeometry.wgmmaKernel(dev.arch, headDim, qStride, outStride, overlap);
        if (kernel == null) {
            System.err.println("warning: the wgmma attention kernel covers head dim " + LaunchGeometry.WGMMA_HEAD_DIM
                    + " only; head dim " + headDim + " uses the flash kernel");
            return null;
        }
        dev.loadArchSpecific(LaunchGeometry.WGMMA_SOURCE);
        return kernel;
    }

    /**
     * Which attention implementation a stage uses; -Dpipefill.cuda.attention picks it (default flash). The
     * {@link #experimental} ones have never run on a GPU and are accepted only with {@link Experimental}'s switch.
     */
    enum AttentionChoice {
        /** flash_attention.cu on tensor cores, attention.cu where its layout does not fit. */
        FLASH(false),
        /** cuDNN's fused attention through the backend graph API ({@link CudnnAttention}); flash where it has no engine. */
        CUDNN(true),
        /**
         * flash_attention_sm90.cu (Hopper wgmma) at head dim 128 on sm_90, flash at other head dims; not yet run on
         * a GPU, so not the default (tools/gpu-check's attention probe is its first check).
         */
        WGMMA(true),
        /** {@link #WGMMA} with the softmax overlapping the previous tile's P·V (the _overlap kernel); as unverified. */
        WGMMA_OVERLAP(true),
        /** attention.cu everywhere: the CUDA-core baseline of the GPU check, and a way around a suspected bug. */
        CUDA_CORES(false);

        /** Never run on a GPU: chosen only with -Dpipefill.cuda.experimental=true ({@link Experimental}). */
        final boolean experimental;

        AttentionChoice(boolean experimental) {
            this.experimental = experimental;
        }

        static AttentionChoice fromSystemProperty() {
            String v = System.getProperty("pipefill.cuda.attention", "flash");
            for (AttentionChoice c : values()) {
                if (c.propertyValue().equals(v)) {
                    if (c.experimental) {
                        Experimental.require("-Dpipefill.cuda.attention=" + v);
                    }
                    return c;
                }
            }
            throw new IllegalArgumentException("pipefill.cuda.attention is '" + v + "'; allowed: flash, cuda-cores, and"
                    + " with -D" + Experimental.PROPERTY + "=true the experimental cudnn, wgmma, wgmma-overlap");
        }

        String propertyValue() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * The chunk's queries against the cache, with the implementation chosen at load, or the next one down where it
     * does not cover this shape (cuDNN, wgmma, flash, CUDA cores); which one ran, and why, goes to attentionUsage.
     */
    private void attend(Layer w, Buffers b, int pos0, int n, int qkvWidth) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        String cudnnRefused = null;
        if (cudnn != null) {
            AttentionShape shape = AttentionShape.ofStage(heads, kvHeads, headDim, n, pos0, capacity);
            if (cudnn.tryAttend(shape, dev.arg(b.qkv).value(), dev.arg(w.keys()).value(), dev.arg(w.values()).value(),
                    dev.arg(b.attn).value())) {
                attentionUsage.layer(AttentionChoice.CUDNN.propertyValue(), null);
                return;
            }
            cudnnRefused = "cuDNN: " + cudnn.refusal(shape);
        }
        String whyNotRequested = cudnnRefused != null ? cudnnRefused : wgmmaMissing;
        if (wgmmaKernel != null) {
            int[] grid = LaunchGeometry.wgmmaGrid(n, heads);
            dev.launchWithShared(wgmmaKernel, grid[0], grid[1], LaunchGeometry.WGMMA_THREADS, LaunchGeometry.wgmmaSharedBytes(wgmmaKernel),
                    dev.arg(b.qkv), dev.arg(w.keys()), dev.arg(w.values()), dev.arg(b.attn), n, pos0, heads, kvHeads, capacity,
                    qkvWidth, qDim, (float) (scale * LOG2_E));
            attentionUsage.layer(attentionUsage.requested(), null);
            return;
        }
        if (flashKernel != null) {
            int[] grid = LaunchGeometry.flashGrid(n, heads, headDim);
            dev.launchWithShared(flashKernel, grid[0], grid[1], LaunchGeometry.FLASH_WARPS * 32,
                    LaunchGeometry.flashSharedBytes(headDim), dev.arg(b.qkv), dev.arg(w.keys()), dev.arg(w.values()),
                    dev.arg(b.attn), n, pos0, heads, kvHeads, capacity, qkvWidth, qDim, (float) (scale * LOG2_E));
            attentionUsage.layer(AttentionChoice.FLASH.propertyValue(), whyNotRequested);
            return;
        }
        int[] grid = LaunchGeometry.attentionGrid(n, heads);
        dev.launch("attention_prefill", grid[0], grid[1], LaunchGeometry.ATTENTION_THREADS, dev.arg(b.qkv), dev.arg(w.keys()),
                dev.arg(w.values()), dev.arg(b.attn), n, pos0, heads, kvHeads, headDim, capacity, qkvWidth, qDim, scale);
        attentionUsage.layer(AttentionChoice.CUDA_CORES.propertyValue(),
                whyNotRequested == null ? flashMissing : flashMissing == null ? whyNotRequested : whyNotRequested + "; " + flashMissing);
    }

    /**
     * x += in · Wᵀ: alone, the GEMM accumulates into the residual (beta = 1). Under tensor parallelism the
     * partial products are summed over the group, on the device with NCCL when the rank has a TP communicator,
     * else through the host all-reduce (float32, as the CPU ranks do), and added back.
     *
     * <p>The device sum is BF16, not FP32: the GEMM writes BF16 partials and the residual they join is BF16, so
     * FP32 would double the bytes on the wire (and need an FP32 GEMM output and add kernel) for no gain at tp 2,
     * where NCCL adds the two BF16 values with one rounding, as the host path (float32 sum, one rounding to BF16)
     * does, up to a double rounding on the host when the two exponents are far apart. At tp above 2 NCCL rounds each partial sum to BF16 (ring order, not group order); every rank
     * still gets the same bits, since each element is reduced once and then broadcast.
     */
    private void projectIntoResidual(int n, int in, long input, long w, long x, Buffers b) {
        int h = config.hiddenSize();
        if (tp.size() == 1) {
            dev.linear(n, in, h, input, w, true, x, false);
            return;
        }
        dev.linear(n, in, h, input, w, false, b.partial, false);
        int ew = LaunchGeometry.ELEMENTWISE_THREADS;
        if (deviceAllReduce != null) {
            deviceAllReduce.sumBf16InPlace(dev, b.partial, (long) n * h);
            dev.launch("residual_add", LaunchGeometry.blocks((long) n * h, ew), 1, ew, dev.arg(x), dev.arg(b.partial), (long) n * h);
            return;
        }
        short[] bf = new short[n * h];
        dev.downloadBf16(b.partial, bf, bf.length);
        float[] partial = new float[n * h];
        for (int i = 0; i < bf.length; i++) {
            partial[i] = DType.bf16ToFloat(bf[i]);
        }
        tp.allReduce().sum(partial, n * h);
        for (int i = 0; i < bf.length; i++) {
            bf[i] = DType.floatToBf16(partial[i]);
        }
        dev.uploadBf16(b.partial, 0, bf, bf.length);
        dev.launch("residual_add", LaunchGeometry.blocks((long) n * h, ew), 1, ew, dev.arg(x), dev.arg(b.partial), (long) n * h);
    }

    @Override
    public float[] logits(Activations activations, int row) {
        StageChecks.holdsHead(lmHead != ABSENT, shard);
        CudaActivations x = CudaActivations.of(activations);
        x.checkRows(row + 1);
        int h = config.hiddenSize();
        int vocab = config.vocabSize();
        Buffers b = buffers(1);
        dev.launch("rms_norm", 1, 1, LaunchGeometry.rowThreads(h), dev.arg(x.offset + (long) row * h * 2),
                dev.arg(finalNorm), dev.arg(b.normed), 1, h, eps);
        // a GEMV as a one-row GEMM, written straight to FP32 so that the host gets full-precision logits
        dev.linear(1, h, vocab, b.normed, lmHead, false, b.logits, true);
        float[] logits = new float[vocab];
        dev.downloadFloats(b.logits, logits, vocab);
        return logits;
    }

    private Buffers buffers(int n) {
        if (buffers == null || buffers.rows < n) {
            if (buffers != null) {
                buffers.close();
            }
            buffers = new Buffers(n);
        }
        return buffers;
    }

    @Override
    public void resetCache() {
        length = 0;
    }

    @Override
    public int cachedPositions() {
        return length;
    }

    @Override
    public long weightBytes() {
        return weightBytes;
    }

    @Override
    public long kvCacheBytes() {
        return kvBytes;
    }

    @Override
    public AttentionUsage.Report attentionUsage() {
        return attentionUsage.report();
    }

    @Override
    public void close() {
        if (buffers != null) {
            buffers.close();
            buffers = null;
        }
        owned.forEach(dev.pool::free);
        owned.clear();
        if (cudnn != null) {
            cudnn.close();
        }
    }

    /** Work buffers for one chunk of up to {@code rows} tokens (BF16 unless noted), reused across chunks and layers. */
    private final class Buffers implements AutoCloseable {
        final int rows;
        final long normed;
        final long qkv;
        final long attn;
        final long gateUp;
        final long act;
        final long partial;
        /** int32 token ids. */
        final long ids;
        /** FP32 logits of one row. */
        final long logits;
        private final List<Long> mine = new ArrayList<>();

        Buffers(int rows) {
            this.rows = rows;
            long r = rows;
            int h = config.hiddenSize();
            normed = take(r * h * 2, "normed rows");
            qkv = take(r * (qDim + 2L * kvDim) * 2, "q/k/v rows");
            attn = take(r * qDim * 2, "attention output");
            gateUp = take(r * 2L * inter * 2, "gate/up rows");
            act = take(r * inter * 2, "SwiGLU output");
            partial = take(r * h * 2, "tensor-parallel partial sums");
            ids = take(r * 4, "token ids");
            logits = take((long) config.vocabSize() * 4, "logits");
        }

        private long take(long bytes, String what) {
            long off = dev.pool.allocate(bytes, what);
            mine.add(off);
            return off;
        }

        @Override
        public void close() {
            mine.forEach(dev.pool::free);
            mine.clear();
        }
    }
}
