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
 *   <li>GEMMs: 2·n·(active parameters / TP) FLOPs at the weights' peak (FP8 where the chip has it) × GEMM
 *       efficiency, but never faster than reading the weights once from HBM (the floor that short chunks hit);
 *       MoE counts only the k routed experts (plus shared experts and the router) and reads only the experts that
 *       some token of the chunk is routed to;</li>
 *   <li>attention: causal pairs n·L + n(n+1)/2 × FLOPs per pair at the BF16 peak × attention efficiency, floored
 *       by reading the prefix's KV cache once; MLA also expands the cached latents of the prefix through
 *       kv_b_proj (a GEMM of 2·L·kv_lora·(heads/TP)·(nope + v) FLOPs);</li>
 *   <li>TP: two ring all-reduces of the n × hidden BF16 activations per layer, 2(T−1)/T · bytes / bandwidth +
 *       2(T−1) link latencies, over NVLink inside a node, the NIC across nodes;</li>
 *   <li>a fixed per-layer overhead (launches, norms, RoPE) from the efficiency factors.</li>
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
    private final double prefixExpandFlopsPerToken;
    private final double qkvWidthPerGpu;

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
            prefixExpandFlopsPerToken = 2.0 * a.kvLoraRank() * heads * (a.qkNopeHeadDim() + a.vHeadDim());
            qkvWidthPerGpu = heads * (2 * a.qkHeadDim() + a.vHeadDim());
        } else {
            AttentionSpec.Gqa g = (AttentionSpec.Gqa) m.attention();
            double heads = g.heads() / (double) tp;
            // with TP above the KV head count each rank keeps one (replicated) KV head
            double kvHeads = Math.max(1, g.kvHeads() / tp);
            attnParamsPerGpu = 2 * h * heads * g.headDim() + 2 * h * kvHeads * g.headDim();
            kvBytesPerTokenLayer = 2 * kvHeads * g.headDim() * ModelSpec.KV_BYTES;
            attnFlopsPerPair = 4 * heads * g.headDim();
            prefixExpandFlopsPerToken = 0;
            qkvWidthPerGpu = (heads + 2 * kvHeads) * g.headDim();
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

    /** The cost of one chunk on one GPU of {@code stage}, by component. */
    public ChunkCost chunkCost(int stage, long prefix, int n) {
        if (n <= 0 || prefix < 0) {
            throw new IllegalArgumentException("a chunk needs n > 0 tokens and a prefix ≥ 0, got n=" + n + " prefix=" + prefix);
        }
        ChunkCost c = ChunkCost.ZERO;
        if (denseLayers[stage] > 0) {
            c = c.plus(layerCost(false, prefix, n).times(denseLayers[stage]));
        }
        if (moeLayers[stage] > 0) {
            c = c.plus(layerCost(true, prefix, n).times(moeLayers[stage]));
        }
        return c;
    }

    /** One decoder layer on one GPU. */
    public ChunkCost layerCost(boolean moe, long prefix, int n) {
        Work w = work(moe, prefix, n);
        int wb = m.weightBytes();
        double gemmRate = gpu.gemmPeak(wb) * eff.gemm();
        double bf16Rate = gpu.bf16Flops() * eff.gemm();
        double attnRate = gpu.bf16Flops() * eff.attention();
        double hbm = gpu.hbmBytesPerS() * eff.memory();
        double gemmCompute = w.gemmFlops / gemmRate;
        double gemmFloor = w.weightBytesRead / hbm;
        double gemmS = Math.max(gemmCompute, gemmFloor) + w.expandFlops / bf16Rate;
        double attnCompute = w.attnFlops / attnRate;
        double attnFloor = w.kvBytesRead / hbm;
        double attnS = Math.max(attnCompute, attnFloor);
        double arMs = tp > 1 ? 2 * allReduceMs((double) n * m.hiddenSize() * ACT) : 0;
        return new ChunkCost(gemmS * 1e3, attnS * 1e3, arMs, eff.layerOverheadMs(), w.gemmFlops + w.expandFlops,
                w.attnFlops, gemmFloor > gemmCompute, attnFloor > attnCompute);
    }

    /**
     * GEMM and attention time (ms) of one layer at 100% efficiency and without memory floors, and the TP
     * all-reduce time: the terms that calibration scales by 1 / efficiency.
     */
    public double[] idealLayerMs(boolean moe, long prefix, int n) {
        Work w = work(moe, prefix, n);
        double gemm = (w.gemmFlops / gpu.gemmPeak(m.weightBytes()) + w.expandFlops / gpu.bf16Flops()) * 1e3;
        double attn = w.attnFlops / gpu.bf16Flops() * 1e3;
        double ar = tp > 1 ? 2 * allReduceMs((double) n * m.hiddenSize() * ACT) : 0;
        return new double[] {gemm, attn, ar};
    }

    /** FLOPs and bytes of one layer on one GPU for a chunk of n tokens after prefix tokens. */
    private record Work(double gemmFlops, double expandFlops, double attnFlops, double weightBytesRead,
                        double kvBytesRead) {
    }

    private Work work(boolean moe, long prefix, int n) {
        double h = m.hiddenSize();
        double activeMlp;
        double readMlp;
        if (moe) {
            MoeSpec e = m.moe();
            double router = h * e.experts();
            double shared = 3 * h * e.sharedIntermediate() / tp;
            double expert = 3 * h * e.expertIntermediate();
            // balanced routing: each rank computes n·k/TP (token, expert) pairs over its E/TP experts
            activeMlp = expert * e.activeExperts() / tp + shared + router;
            readMlp = expert * (e.experts() / (double) tp) * e.shareTouched(n) + shared + router;
        } else {
            activeMlp = 3 * h * m.intermediateSize() / tp;
            readMlp = activeMlp;
        }
        double pairs = (double) n * prefix + (double) n * (n + 1) / 2;
        return new Work(2.0 * n * (attnParamsPerGpu + activeMlp), prefixExpandFlopsPerToken * prefix,
                pairs * attnFlopsPerPair, (attnParamsPerGpu + readMlp) * m.weightBytes(),
                (prefix + n) * kvBytesPerTokenLayer);
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

    /** Final norm + lm_head for the one position TTFT needs: reading lm_head's slice dominates. */
    public double headMs() {
        double params = (double) m.vocabSize() * m.hiddenSize() / tp;
        double s = Math.max(2 * params / (gpu.bf16Flops() * eff.gemm()), params * m.embedBytes()
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
