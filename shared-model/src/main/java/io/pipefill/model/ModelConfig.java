package io.pipefill.model;

/**
 * The parts of a Hugging Face config.json that define a decoder's shapes and numerics: dense or
 * mixture-of-experts, GQA or multi-head latent attention.
 *
 * @param headDim           size of one attention head (config "head_dim", default hidden / heads); with latent
 *                          attention the rotary part's width (qk_rope_head_dim), as Hugging Face sets it
 * @param attentionBias     whether q/k/v projections carry a bias (always for Qwen2)
 * @param ropeScaling       llama3 or (with latent attention) yarn frequency scaling, or null for plain RoPE
 * @param torchDtype        the dtype the checkpoint says it stores ("bfloat16", ...), informational
 * @param moe               the sparse MLP of a mixture-of-experts family (Qwen3-MoE, DeepSeek-V3), or null for a dense model;
 *                          {@code intermediateSize} is then the width of its dense layers
 * @param fp8               block-scaled FP8 weights ("quantization_config"), or null for unquantised ones
 * @param mla               multi-head latent attention (DeepSeek-V3), or null for GQA; then numKvHeads equals
 *                          numHeads and the q/k/v widths below do not apply
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
        BlockFp8 fp8,
        MlaConfig mla) {

    /** A dense model. */
    public ModelConfig(Architecture architecture, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                       int numHeads, int numKvHeads, int headDim, int maxPositionEmbeddings, double ropeTheta,
                       RopeScaling ropeScaling, double rmsNormEps, boolean tieWordEmbeddings, boolean attentionBias,
                       String torchDtype) {
        this(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                maxPositionEmbeddings, ropeTheta, ropeScaling, rmsNormEps, tieWordEmbeddings, attentionBias, torchDtype,
                null, null, null);
    }

    /** A GQA model, dense or mixture-of-experts. */
    public ModelConfig(Architecture architecture, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                       int numHeads, int numKvHeads, int headDim, int maxPositionEmbeddings, double ropeTheta,
                       RopeScaling ropeScaling, double rmsNormEps, boolean tieWordEmbeddings, boolean attentionBias,
                       String torchDtype, MoeConfig moe, BlockFp8 fp8) {
        this(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                maxPositionEmbeddings, ropeTheta, ropeScaling, rmsNormEps, tieWordEmbeddings, attentionBias, torchDtype,
                moe, fp8, null);
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
        if (architecture.latentAttention() != (mla != null)) {
            throw new IllegalArgumentException(architecture.hfName() + (mla == null
                    ? " needs its latent-attention fields (kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim)"
                    : " has no latent attention (kv_lora_rank and the like)"));
        }
        if (mla != null) {
            if (headDim != mla.qkRopeHeadDim()) {
                throw new IllegalArgumentException("with latent attention head_dim is the rotary width qk_rope_head_dim ("
                        + mla.qkRopeHeadDim() + "), got " + headDim);
            }
            if (numKvHeads != numHeads) {
                throw new IllegalArgumentException("with latent attention every head has its own key and value: "
                        + "num_key_value_heads must equal num_attention_heads (" + numHeads + "), got " + numKvHeads);
            }
            if (attentionBias) {
                throw new IllegalArgumentException("attention_bias true is not supported with latent attention "
                        + "(DeepSeek-V3 has no attention biases); allowed: false");
            }
        }
        if (ropeScaling != null && ropeScaling.type() == RopeScaling.Type.YARN && mla == null) {
            throw new IllegalArgumentException("rope_scaling type yarn is supported with latent attention (DeepSeek-V3) "
                    + "only; allowed here: llama3 or null");
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

    /** The same model with its projections stored as {@code fp8} (null: unquantised). */
    public ModelConfig withFp8(BlockFp8 fp8) {
        return new ModelConfig(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                headDim, maxPositionEmbeddings, ropeTheta, ropeScaling, rmsNormEps, tieWordEmbeddings, attentionBias,
                torchDtype, moe, fp8, mla);
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

    /**
     * Floats one position costs in one layer's KV cache: its k and v heads, or with latent attention only the
     * latent and the rotary key (shared by every head, and held whole by every tensor-parallel rank).
     */
    public int kvFloatsPerPosition(int tensorParallel) {
        return mla != null ? mla.cachedFloatsPerPosition() : 2 * kvDim() / tensorParallel;
    }

    private long attentionParameters() {
        if (mla != null) {
            return mla.attentionParameters(hiddenSize, numHeads);
        }
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
        // QKᵀ over the query/key width and PV over the value width, per head
        double attention = mla != null ? 2.0 * keysSeen * numHeads * (mla.qkHeadDim() + mla.vHeadDim())
                : 4.0 * keysSeen * qDim();
        double attnParams = mla != null ? mla.attentionParameters(hiddenSize, numHeads)
                : h * qDim() + 2 * h * kvDim() + (double) qDim() * h;
        double total = 0;
        for (int l = 0; l < numLayers; l++) {
            // a sparse layer counts the parameters a token uses: the router, its top-k experts and the shared ones
            double mlp = isSparseLayer(l) ? moe.activeSparseParameters(hiddenSize) : 3 * h * intermediateSize;
            double linear = 2.0 * n * (attnParams + mlp);
            total += linear + attention;
        }
        return total;
    }

    /** FLOPs of the lm_head for {@code rows} positions. */
    public double headFlops(long rows) {
        return 2.0 * rows * hiddenSize * (double) vocabSize;
    }
}
