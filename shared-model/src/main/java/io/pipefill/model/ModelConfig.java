package io.pipefill.model;

/**
 * The parts of a Hugging Face config.json that define a dense decoder's shapes and numerics.
 *
 * @param headDim           size of one attention head (config "head_dim", default hidden / heads)
 * @param attentionBias     whether q/k/v projections carry a bias (always for Qwen2)
 * @param ropeScaling       llama3 frequency scaling, or null for plain RoPE
 * @param torchDtype        the dtype the checkpoint says it stores ("bfloat16", ...), informational
 * @param moe               the sparse MLP of a mixture-of-experts family (Qwen3-MoE), or null for a dense model;
 *                          {@code intermediateSize} is then the width of its dense layers
 * @param fp8               block-scaled FP8 weights ("quantization_config"), or null for unquantised ones
 */
public record ModelConfig(
        Architecture architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int maxPositionEmbeddings,
        double ropeTheta,
        RopeScaling ropeScaling,
        double rmsNormEps,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        String torchDtype,
        MoeConfig moe,
        BlockFp8 fp8) {

    /** A dense model. */
    public ModelConfig(Architecture architecture, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                       int numHeads, int numKvHeads, int headDim, int maxPositionEmbeddings, double ropeTheta,
                       RopeScaling ropeScaling, double rmsNormEps, boolean tieWordEmbeddings, boolean attentionBias,
                       String torchDtype) {
        this(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                maxPositionEmbeddings, ropeTheta, ropeScaling, rmsNormEps, tieWordEmbeddings, attentionBias, torchDtype,
                null, null);
    }

    public ModelConfig {
        requirePositive("vocab_size", vocabSize);
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_hidden_layers", numLayers);
        requirePositive("num_attention_heads", numHeads);
        requirePositive("num_key_value_heads", numKvHeads);
        requirePositive("head_dim", headDim);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads (" + numHeads
                    + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for rotary embeddings, got " + headDim);
        }
        if (!(ropeTheta > 0)) {
            throw new IllegalArgumentException("rope_theta must be positive, got " + ropeTheta);
        }
        if (!(rmsNormEps > 0) || rmsNormEps >= 1) {
            throw new IllegalArgumentException("rms_norm_eps must be in (0, 1), got " + rmsNormEps);
        }
        if (torchDtype == null) {
            torchDtype = "bfloat16";
        }
        if (architecture.mixtureOfExperts() != (moe != null)) {
            throw new IllegalArgumentException(architecture.hfName() + (moe == null
                    ? " needs its mixture-of-experts fields (num_experts, num_experts_per_tok, moe_intermediate_size)"
                    : " is a dense architecture and takes no mixture-of-experts fields"));
        }
        if (moe != null) {
            for (int l : moe.mlpOnlyLayers()) {
                if (l < 0 || l >= numLayers) {
                    throw new IllegalArgumentException("mlp_only_layers entry " + l + " is not a layer in [0, "
                            + numLayers + ")");
                }
            }
        }
    }

    /** Whether layer {@code layer} (global index) has the mixture-of-experts MLP. */
    public boolean isSparseLayer(int layer) {
        return moe != null && moe.isSparse(layer);
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be a positive integer, got " + value);
        }
    }

    /** Width of the concatenated query heads. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Width of the concatenated key (or value) heads. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Query heads per key/value head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    public boolean qkvBias() {
        return attentionBias || architecture.qkvBiasAlways();
    }

    /** HF puts a bias on o_proj too when attention_bias is set, except Qwen2 whose biases are fixed to q/k/v. */
    public boolean oBias() {
        return attentionBias && architecture != Architecture.QWEN2;
    }

    public boolean qkNorm() {
        return architecture.qkNorm();
    }

    /** Parameters of decoder layer {@code layer} (global index): every expert of a sparse layer. */
    public long layerParameters(int layer) {
        long h = hiddenSize;
        long mlp = isSparseLayer(layer) ? moe.sparseParameters(h) : 3 * h * intermediateSize;
        return attentionParameters() + mlp + 2 * h;
    }

    private long attentionParameters() {
        long h = hiddenSize;
        long attn = h * qDim() + 2 * h * kvDim() + (long) qDim() * h;
        long bias = (qkvBias() ? qDim() + 2L * kvDim() : 0) + (oBias() ? h : 0);
        long qkNormParams = qkNorm() ? 2L * headDim : 0;
        return attn + bias + qkNormParams;
    }

    /** Total parameters, counting a tied lm_head once. */
    public long parameterCount() {
        long embed = (long) vocabSize * hiddenSize;
        long layers = 0;
        for (int l = 0; l < numLayers; l++) {
            layers += layerParameters(l);
        }
        return embed + (tieWordEmbeddings ? 0 : embed) + layers + hiddenSize;
    }

    /**
     * Multiply-add FLOPs (2 per MAC) of the decoder layers for a chunk of {@code n} tokens after a prefix of
     * {@code prefix} tokens: the projections plus causal attention (QK^T and PV over prefix + the chunk's
     * lower triangle). Excludes the embedding gather and lm_head.
     */
    public double layerFlops(long prefix, long n) {
        double h = hiddenSize;
        double keysSeen = n * (double) prefix + n * (n + 1) / 2.0;
        double attention = 4.0 * keysSeen * qDim();
        double total = 0;
        for (int l = 0; l < numLayers; l++) {
            // a sparse layer counts the parameters a token uses: the router and its top-k experts
            double mlp = isSparseLayer(l) ? moe.activeSparseParameters(hiddenSize) : 3 * h * intermediateSize;
            double linear = 2.0 * n * (h * qDim() + 2 * h * kvDim() + (double) qDim() * h + mlp);
            total += linear + attention;
        }
        return total;
    }

    /** FLOPs of the lm_head for {@code rows} positions. */
    public double headFlops(long rows) {
        return 2.0 * rows * hiddenSize * (double) vocabSize;
    }
}
