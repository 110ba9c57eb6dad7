package io.pipefill.model.cost;

import io.pipefill.model.StageShard;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.Efficiency;
import io.pipefill.model.hw.GpuSpec;
import io.pipefill.model.sim.LinkTime;
import io.pipefill.model.sim.StageLatency;

/**
 * Analytic latency and memory of a model split PP × TP over a cluster. Per decoder layer and chunk of n tokens
 * after a prefix of L, on one GPU of the stage's TP group (all ranks do the same work):
 * <ul>
 *   <li>GEMMs, one by one with their shapes (M = chunk tokens, N, K per GPU): 2MNK FLOPs at the weights' peak
 *       (FP8 where the chip has it) × GEMM efficiency, blended with the time to move the weights and the
 *       activations through HBM as the chip's {@link io.pipefill.model.hw.KernelShapes} say, so short chunks run
 *       below the large-shape rate and tiny ones at the weights' read time; MoE runs the k routed experts of each
 *       token as a grouped GEMM over the experts some token of the chunk reaches (M = the tokens each of them
 *       gets), plus shared experts and the router; MLA also expands the cached latents of the prefix through
 *       kv_b_proj (a BF16 GEMM with M = the prefix);</li>
 *   <li>attention: causal pairs n·L + n(n+1)/2 × FLOPs per pair at the BF16 peak × attention efficiency × the
 *       kernel's share at this chunk length and prefix (last-wave fill, short key ranges), floored by reading the
 *       prefix's KV cache once;</li>
 *   <li>TP: two ring all-reduces of the n × hidden BF16 activations per layer, 2(T−1)/T · bytes / bandwidth +
 *       2(T−1) link latencies, over NVLink inside a node, the NIC across nodes;</li>
 *   <li>a fixed per-layer overhead (launches, norms, RoPE) and a fixed per-chunk one per stage (input wait,
 *       synchronisation and posting of the send) from the efficiency factors.</li>
 * </ul>
 * Terms add (kernels of one layer run one after the other on the compute stream). The P2P send of a chunk
 * carries the hidden states and the residual (BF16), rank i of one stage to rank i of the next.
 */
public final class ParallelCostModel {
    /**
     * Share of device memory a layout may fill; the rest is the CUDA context, NCCL buffers and allocator slack
     * (vLLM's default gpu_memory_utilization is also 0.9).
     */
    public static final double USABLE_MEMORY_SHARE = 0.90;
    private static final int ACT = ModelSpec.ACTIVATION_BYTES;

    private final ModelSpec m;
    private final Cluster cluster;
    private final Layout layout;
    private final GpuSpec gpu;
    private final Efficiency eff;
    private final int tp;
    private final int[] denseLayers;
    private final int[] moeLayers;
    private final double attnParamsPerGpu;
    private final double kvBytesPerTokenLayer;
    private final double attnFlopsPerPair;
    private final double qkvWidthPerGpu;
    private final double headsPerGpu;
    /** The attention block's GEMMs on one GPU with M = the chunk: {N, K} each. */
    private final double[][] attnGemms;
    /** kv_b_proj's {N, K} for MLA's prefix expansion (M = the prefix), or null. */
    private final double[] expandGemm;

    public ParallelCostModel(ModelSpec m, Cluster cluster, Layout layout) {
        this.m = m;
        this.cluster = cluster;
        this.layout = layout;
        this.gpu = cluster.gpu();
        this.eff = gpu.efficiency();
        this.tp = layout.tp();
        if (layout.partition().totalLayers() != m.numLayers()) {
            throw new IllegalArgumentException("layer partition " + layout.partition() + " sums to "
                    + layout.partition().totalLayers() + " but " + m.name() + " has " + m.numLayers() + " layers");
        }
        int pp = layout.pp();
        denseLayers = new int[pp];
        moeLayers = new int[pp];
        for (int s = 0; s < pp; s++) {
            StageShard sh = layout.partition().shard(s);
            moeLayers[s] = m.moeLayersIn(sh.firstLayer(), sh.endLayer());
            denseLayers[s] = sh.layerCount() - moeLayers[s];
        }
        double h = m.hiddenSize();
        if (m.attention() instanceof AttentionSpec.Mla a) {
            double heads = a.heads() / (double) tp;
            // q_a and kv_a are small and replicated on every TP rank; q_b, kv_b and o are split by heads
            double q = a.qLoraRank() > 0 ? h * a.qLoraRank() + a.qLoraRank() * heads * a.qkHeadDim() : h * heads * a.qkHeadDim();
            attnParamsPerGpu = q + h * a.latentWidth() + a.kvLoraRank() * heads * (a.qkNopeHeadDim() + a.vHeadDim())
                    + heads * a.vHeadDim() * h;
            // the latent cache is not split by heads: every TP rank keeps all of it
            kvBytesPerTokenLayer = a.latentWidth() * (double) ModelSpec.KV_BYTES;
            attnFlopsPerPair = 2 * heads * (a.qkHeadDim() + a.vHeadDim());
            qkvWidthPerGpu = heads * (2 * a.qkHeadDim() + a.vHeadDim());
            headsPerGpu = heads;
            double[] kvB = {heads * (a.qkNopeHeadDim() + a.vHeadDim()), a.kvLoraRank()};
            double[] o = {h, heads * a.vHeadDim()};
            double[] kvA = {a.latentWidth(), h};
            attnGemms = a.qLoraRank() > 0
                    ? new double[][] {{a.qLoraRank(), h}, {heads * a.qkHeadDim(), a.qLoraRank()}, kvA, kvB, o}
                    : new double[][] {{heads * a.qkHeadDim(), h}, kvA, kvB, o};
            expandGemm = kvB;
        } else {
            AttentionSpec.Gqa g = (AttentionSpec.Gqa) m.attention();
            double heads = g.heads() / (double) tp;
            // with TP above the KV head count each rank keeps one (replicated) KV head
            double kvHeads = Math.max(1, g.kvHeads() / tp);
            attnParamsPerGpu = 2 * h * heads * g.headDim() + 2 * h * kvHeads * g.headDim();
            kvBytesPerTokenLayer = 2 * kvHeads * g.headDim() * ModelSpec.KV_BYTES;
            attnFlopsPerPair = 4 * heads * g.headDim();
            qkvWidthPerGpu = (heads + 2 * kvHeads) * g.headDim();
            headsPerGpu = heads;
            attnGemms = new double[][] {{qkvWidthPerGpu, h}, {h, heads * g.headDim()}};
            expandGemm = null;
        }
    }

    public ModelSpec model() {
        return m;
    }

    public Cluster cluster() {
        return cluster;
    }

    public Layout layout() {
        return layout;
    }

    public StageLatency latency() {
        return (stage, prefix, n) -> chunkCost(stage, prefix, n).totalMs();
    }

    public LinkTime links() {
        return this::sendMs;
    }

    /** The cost of one chunk on one GPU of {@code stage}, by component (the per-chunk overhead included). */
    public ChunkCost chunkCost(int stage, long prefix, int n) {
        if (n <= 0 || prefix < 0) {
            throw new IllegalArgumentException("a chunk needs n > 0 tokens and a prefix ≥ 0, got n=" + n + " prefix=" + prefix);
        }
        ChunkCost c = new ChunkCost(0, 0, 0, eff.chunkOverheadMs() + (stage == 0 ? embeddingMs(n) : 0), 0, 0, false,
                false);
        if (denseLayers[stage] > 0) {
            c = c.plus(layerCost(false, prefix, n).times(denseLayers[stage]));
        }
        if (moeLayers[stage] > 0) {
            c = c.plus(layerCost(true, prefix, n).times(moeLayers[stage]));
        }
        return c;
    }

    /** One decoder layer on one GPU (without the per-chunk overhead). */
    public ChunkCost layerCost(boolean moe, long prefix, int n) {
        Gemms g = gemms(moe, prefix, n, eff.gemm());
        Attention a = attention(prefix, n);
        double attnCompute = a.idealS / eff.attention();
        double attnFloor = a.kvBytes / (gpu.hbmBytesPerS() * eff.memory());
        double arMs = tp > 1 ? 2 * allReduceMs((double) n * m.hiddenSize() * ACT) : 0;
        return new ChunkCost(g.seconds * 1e3, Math.max(attnCompute, attnFloor) * 1e3, arMs, eff.layerOverheadMs(),
                g.flops, a.flops, g.trafficS > g.computeS, attnFloor > attnCompute);
    }

    /**
     * What calibration scales by 1 / efficiency, for one layer, in ms: the GEMMs' time at GEMM efficiency
     * {@code gemmEfficiency} times that efficiency (so dividing by it gives the time again; not exactly linear in
     * it, as the HBM traffic does not scale, hence calibration iterates), the attention's time at 100 % of the
     * kernel's large-shape rate (its shape share included), and the TP all-reduce time.
     */
    public double[] idealLayerMs(boolean moe, long prefix, int n, double gemmEfficiency) {
        Gemms g = gemms(moe, prefix, n, gemmEfficiency);
        double ar = tp > 1 ? 2 * allReduceMs((double) n * m.hiddenSize() * ACT) : 0;
        return new double[] {g.seconds * gemmEfficiency * 1e3, attention(prefix, n).idealS * 1e3, ar};
    }

    /** The GEMMs of one layer on one GPU at GEMM efficiency {@code e}: FLOPs, time, and its compute and traffic parts. */
    private record Gemms(double flops, double seconds, double computeS, double trafficS) {
    }

    private final class GemmSum {
        double flops;
        double seconds;
        double computeS;
        double trafficS;

        /** {@code count} GEMMs of M × K by K × N at {@code peak} with weights of {@code wb} bytes per element. */
        void add(double count, double mRows, double n, double k, double peak, double wb, double e) {
            if (count <= 0 || mRows <= 0) {
                return;
            }
            double f = 2 * mRows * n * k;
            double c = f / (peak * e);
            double t = (k * n * wb + (mRows * k + mRows * n) * ACT) / (gpu.hbmBytesPerS() * eff.memory());
            flops += count * f;
            computeS += count * c;
            trafficS += count * t;
            seconds += count * gpu.shapes().gemmSeconds(c, t);
        }
    }

    private Gemms gemms(boolean moe, long prefix, int n, double e) {
        int wb = m.weightBytes();
        double peak = gpu.gemmPeak(wb);
        double h = m.hiddenSize();
        GemmSum s = new GemmSum();
        for (double[] nk : attnGemms) {
            s.add(1, n, nk[0], nk[1], peak, wb, e);
        }
        if (expandGemm != null) {
            // the cached latents are BF16: their expansion runs at the BF16 peak
            s.add(1, prefix, expandGemm[0], expandGemm[1], gpu.bf16Flops(), ACT, e);
        }
        if (moe) {
            MoeSpec x = m.moe();
            s.add(1, n, x.experts(), h, peak, wb, e); // router
            if (x.sharedIntermediate() > 0) {
                s.add(1, n, 2.0 * x.sharedIntermediate() / tp, h, peak, wb, e);
                s.add(1, n, h, (double) x.sharedIntermediate() / tp, peak, wb, e);
            }
            // balanced routing: this rank's E/TP experts take n·k/TP (token, expert) pairs, spread over the experts
            // some token reaches
            double touched = x.experts() / (double) tp * x.shareTouched(n);
            double rows = (double) n * x.activeExperts() / tp / touched;
            s.add(touched, rows, 2.0 * x.expertIntermediate(), h, peak, wb, e);
            s.add(touched, rows, h, x.expertIntermediate(), peak, wb, e);
        } else {
            s.add(1, n, 2.0 * m.intermediateSize() / tp, h, peak, wb, e);
            s.add(1, n, h, (double) m.intermediateSize() / tp, peak, wb, e);
        }
        return new Gemms(s.flops, s.seconds, s.computeS, s.trafficS);
    }

    /** Share of the SMs the attention kernel of a chunk of {@code n} tokens keeps busy over its waves. */
    public double attentionWaveFill(int n) {
        return gpu.shapes().waveFill(n, headsPerGpu);
    }

    /** Attention FLOPs of one layer on one GPU, its time at 100 % of the kernel's large-shape rate, KV bytes read. */
    private record Attention(double flops, double idealS, double kvBytes) {
    }

    private Attention attention(long prefix, int n) {
        double pairs = (double) n * prefix + (double) n * (n + 1) / 2;
        double flops = pairs * attnFlopsPerPair;
        double share = gpu.shapes().attentionShare(prefix, n, headsPerGpu);
        return new Attention(flops, flops / (gpu.bf16Flops() * share), (prefix + n) * kvBytesPerTokenLayer);
    }

    /** Ring all-reduce of {@code bytes} over one stage's TP group. */
    public double allReduceMs(double bytes) {
        if (tp == 1) {
            return 0;
        }
        boolean inside = tpInsideNode();
        double bw = (inside ? nvlinkOneWay() : cluster.nicBytesPerS()) * eff.network();
        double lat = inside ? cluster.nvlinkLatencyMs() : cluster.nicLatencyMs();
        return 2.0 * (tp - 1) * lat + 2.0 * (tp - 1) / tp * bytes / bw * 1e3;
    }

    public boolean tpInsideNode() {
        return cluster.nodeOf(0) == cluster.nodeOf(tp - 1) && cluster.gpusPerNode() % tp == 0;
    }

    /** Datasheet NVLink figures count both directions; a send or a ring step uses one. */
    private double nvlinkOneWay() {
        return gpu.nvlinkBytesPerS() / 2;
    }

    /** Whether the send from {@code stage} to the next crosses nodes. */
    public boolean linkCrossesNodes(int stage) {
        for (int i = 0; i < tp; i++) {
            if (cluster.nodeOf(stage * tp + i) != cluster.nodeOf((stage + 1) * tp + i)) {
                return true;
            }
        }
        return false;
    }

    /** Hidden states + residual of n tokens, BF16. */
    public double sendBytes(int n) {
        return 2.0 * n * m.hiddenSize() * ACT;
    }

    public double sendMs(int fromStage, int n) {
        boolean inter = linkCrossesNodes(fromStage);
        double bw = (inter ? cluster.nicBytesPerS() : nvlinkOneWay()) * eff.network();
        double lat = inter ? cluster.nicLatencyMs() : cluster.nvlinkLatencyMs();
        return lat + sendBytes(n) / bw * 1e3;
    }

    /** The first stage's embedding of n tokens: a gather of n rows, read and written once through HBM. */
    public double embeddingMs(int n) {
        return (double) n * m.hiddenSize() * (m.embedBytes() + ACT) / (gpu.hbmBytesPerS() * eff.memory()) * 1e3;
    }

    /** Final norm + lm_head for the one position TTFT needs: reading lm_head's slice dominates. */
    public double headMs() {
        double params = (double) m.vocabSize() * m.hiddenSize() / tp;
        double s = gpu.shapes().gemmSeconds(2 * params / (gpu.bf16Flops() * eff.gemm()), params * m.embedBytes()
                / (gpu.hbmBytesPerS() * eff.memory()));
        return s * 1e3;
    }

    public MemoryEstimate memory(int stage, int promptTokens, int maxChunk) {
        StageShard sh = layout.partition().shard(stage);
        double h = m.hiddenSize();
        double denseMlp = 3 * h * m.intermediateSize() / tp;
        double moeMlp = m.hasMoe() ? 3 * h * ((double) m.moe().experts() / tp * m.moe().expertIntermediate()
                + (double) m.moe().sharedIntermediate() / tp) + h * m.moe().experts() : 0;
        double weights = (denseLayers[stage] * (attnParamsPerGpu + denseMlp) + moeLayers[stage] * (attnParamsPerGpu + moeMlp))
                * m.weightBytes();
        double vocabSlice = (double) m.vocabSize() * m.hiddenSize() / tp * m.embedBytes();
        if (sh.embedding()) {
            weights += vocabSlice;
        }
        if (sh.head() && !(sh.embedding() && m.tiedEmbeddings())) {
            weights += vocabSlice;
        }
        double kv = (double) promptTokens * sh.layerCount() * kvBytesPerTokenLayer;
        double mlpWidth = m.hasMoe() && moeLayers[stage] > 0
                ? (double) m.moe().activeExperts() * m.moe().expertIntermediate() + m.moe().sharedIntermediate()
                : m.intermediateSize();
        // residual, normed input, attention output, q/k/v, gate/up/act of one chunk, plus two send buffers
        double act = (double) maxChunk * ACT * (4 * h + qkvWidthPerGpu + 3 * mlpWidth / tp) + 2 * sendBytes(maxChunk);
        long usable = (long) (gpu.memoryBytes() * USABLE_MEMORY_SHARE);
        return new MemoryEstimate(stage, (long) weights, (long) kv, (long) act, usable, gpu.memoryBytes());
    }

    /** The stage whose memory need is highest. */
    public MemoryEstimate worstMemory(int promptTokens, int maxChunk) {
        MemoryEstimate worst = null;
        for (int s = 0; s < layout.pp(); s++) {
            MemoryEstimate e = memory(s, promptTokens, maxChunk);
            if (worst == null || e.totalBytes() > worst.totalBytes()) {
                worst = e;
            }
        }
        return worst;
    }
}
