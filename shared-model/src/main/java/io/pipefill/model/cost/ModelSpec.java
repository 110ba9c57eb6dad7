package io.pipefill.model.cost;

import java.util.Arrays;

/**
 * A model as the planner sees it: shapes that decide FLOPs, bytes and memory. Unlike {@code ModelConfig}
 * (the four dense architectures the engine runs) this covers MoE, MLA and FP8 checkpoints. Parameter counts
 * ignore norms and biases (well under 0.1% of any model here).
 *
 * @param moeLayer    per layer, whether its MLP is the MoE (else the dense MLP of width intermediateSize)
 * @param weightBytes bytes per element of the decoder layers' linear weights (1 for FP8 checkpoints, else 2)
 * @param embedBytes  bytes per element of the embedding and lm_head (FP8 checkpoints keep them in BF16)
 */
public record ModelSpec(String name, String architecture, int hiddenSize, int numLayers, int vocabSize,
                        int maxPositionEmbeddings, AttentionSpec attention, int intermediateSize, MoeSpec moe,
                        boolean[] moeLayer, int weightBytes, int embedBytes, boolean tiedEmbeddings) {

    /** Activations and the KV cache are BF16. */
    public static final int ACTIVATION_BYTES = 2;
    public static final int KV_BYTES = 2;

    public ModelSpec {
        if (hiddenSize <= 0 || numLayers <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException(name + ": hidden_size, num_hidden_layers and vocab_size must be positive");
        }
        if (moeLayer.length != numLayers) {
            throw new IllegalArgumentException(name + ": MoE layer map has " + moeLayer.length + " entries for "
                    + numLayers + " layers");
        }
        moeLayer = moeLayer.clone();
        boolean anyDense = false;
        boolean anyMoe = false;
        for (boolean b : moeLayer) {
            anyDense |= !b;
            anyMoe |= b;
        }
        if (anyMoe && moe == null) {
            throw new IllegalArgumentException(name + ": MoE layers without an MoE description");
        }
        if (anyDense && intermediateSize <= 0) {
            throw new IllegalArgumentException(name + ": dense layers need intermediate_size > 0");
        }
        if (weightBytes != 1 && weightBytes != 2 && weightBytes != 4) {
            throw new IllegalArgumentException(name + ": weight bytes must be 1, 2 or 4, got " + weightBytes);
        }
    }

    @Override
    public boolean[] moeLayer() {
        return moeLayer.clone();
    }

    public boolean isMoe(int layer) {
        return moeLayer[layer];
    }

    public boolean hasMoe() {
        return moe != null && moeLayerCount() > 0;
    }

    public int moeLayerCount() {
        int n = 0;
        for (boolean b : moeLayer) {
            n += b ? 1 : 0;
        }
        return n;
    }

    /** MoE layers among [first, end). */
    public int moeLayersIn(int first, int end) {
        int n = 0;
        for (int i = first; i < end; i++) {
            n += moeLayer[i] ? 1 : 0;
        }
        return n;
    }

    public boolean isFp8() {
        return weightBytes == 1;
    }

    /** Attention projection parameters of one layer (all heads). */
    public long attentionParams() {
        long h = hiddenSize;
        if (attention instanceof AttentionSpec.Mla m) {
            return mlaParams(m, h);
        }
        AttentionSpec.Gqa g = (AttentionSpec.Gqa) attention;
        return h * (long) (g.heads() + 2 * g.kvHeads()) * g.headDim() + (long) g.heads() * g.headDim() * h;
    }

    static long mlaParams(AttentionSpec.Mla m, long h) {
        long q = m.qLoraRank() > 0 ? h * m.qLoraRank() + (long) m.qLoraRank() * m.heads() * m.qkHeadDim()
                : h * m.heads() * m.qkHeadDim();
        long kvA = h * m.latentWidth();
        long kvB = (long) m.kvLoraRank() * m.heads() * (m.qkNopeHeadDim() + m.vHeadDim());
        long o = (long) m.heads() * m.vHeadDim() * h;
        return q + kvA + kvB + o;
    }

    public long denseMlpParams() {
        return 3L * hiddenSize * intermediateSize;
    }

    /** All MoE MLP parameters of one layer: every expert, the shared experts, the router. */
    public long moeMlpParams() {
        return 3L * hiddenSize * ((long) moe.experts() * moe.expertIntermediate() + moe.sharedIntermediate())
                + (long) hiddenSize * moe.experts();
    }

    /** MoE MLP parameters one token runs through: k experts, the shared experts, the router. */
    public long moeActiveParams() {
        return 3L * hiddenSize * ((long) moe.activeExperts() * moe.expertIntermediate() + moe.sharedIntermediate())
                + (long) hiddenSize * moe.experts();
    }

    public long layerParams(int layer) {
        return attentionParams() + (moeLayer[layer] ? moeMlpParams() : denseMlpParams());
    }

    public long activeLayerParams(int layer) {
        return attentionParams() + (moeLayer[layer] ? moeActiveParams() : denseMlpParams());
    }

    public long embeddingParams() {
        return (long) vocabSize * hiddenSize;
    }

    public long totalParams() {
        long p = 0;
        for (int i = 0; i < numLayers; i++) {
            p += layerParams(i);
        }
        return p + embeddingParams() * (tiedEmbeddings ? 1 : 2);
    }

    public long activeParams() {
        long p = 0;
        for (int i = 0; i < numLayers; i++) {
            p += activeLayerParams(i);
        }
        return p + embeddingParams() * (tiedEmbeddings ? 1 : 2);
    }

    /** KV-cache elements one token keeps in one layer over all heads (before any TP split). */
    public long kvElementsPerTokenPerLayer() {
        if (attention instanceof AttentionSpec.Mla m) {
            return m.latentWidth();
        }
        AttentionSpec.Gqa g = (AttentionSpec.Gqa) attention;
        return 2L * g.kvHeads() * g.headDim();
    }

    public String describe() {
        String attn = attention instanceof AttentionSpec.Mla m
                ? "MLA " + m.heads() + " heads, kv_lora " + m.kvLoraRank() + " + rope " + m.qkRopeHeadDim()
                : "GQA " + attention.heads() + "/" + ((AttentionSpec.Gqa) attention).kvHeads() + " heads × "
                        + ((AttentionSpec.Gqa) attention).headDim();
        String mlp = hasMoe() ? String.format("MoE %d of %d experts × %d%s in %d of %d layers", moe.activeExperts(),
                moe.experts(), moe.expertIntermediate(), moe.sharedIntermediate() > 0 ? " + shared " + moe.sharedIntermediate() : "",
                moeLayerCount(), numLayers) : "dense MLP " + intermediateSize;
        return String.format("%s: %d layers, hidden %d, %s, %s, %s weights, %.1fB parameters (%.1fB active)", name,
                numLayers, hiddenSize, attn, mlp, isFp8() ? "FP8" : "BF16", totalParams() / 1e9, activeParams() / 1e9);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSpec m && name.equals(m.name) && hiddenSize == m.hiddenSize && numLayers == m.numLayers
                && vocabSize == m.vocabSize && attention.equals(m.attention) && intermediateSize == m.intermediateSize
                && java.util.Objects.equals(moe, m.moe) && Arrays.equals(moeLayer, m.moeLayer)
                && weightBytes == m.weightBytes && embedBytes == m.embedBytes && tiedEmbeddings == m.tiedEmbeddings;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(name, hiddenSize, numLayers, attention, Arrays.hashCode(moeLayer));
    }
}
