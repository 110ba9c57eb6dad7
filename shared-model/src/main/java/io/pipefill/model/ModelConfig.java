package io.pipefill.model;

/**
 * The parts of a Hugging Face config.json that define a dense decoder's shapes and numerics.
 *
 * @param headDim           size of one attention head (config "head_dim", default hidden / heads)
 * @param attentionBias     whether q/k/v projections carry a bias (always for Qwen2)
 * @param ropeScaling       llama3 frequency scaling, or null for plain RoPE
 * @param torchDtype        the dtype the checkpoint says it stores ("bfloat16", ...), informational
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
        String torchDtype) {

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

    /** Parameters of one decoder layer. */
    public long layerParameters() {
        long h = hiddenSize;
        long attn = h * qDim() + 2 * h * kvDim() + (long) qDim() * h;
        long bias = (qkvBias() ? qDim() + 2L * kvDim() : 0) + (oBias() ? h : 0);
        long qkNormParams = qkNorm() ? 2L * headDim : 0;
        long mlp = 3 * h * intermediateSize;
        return attn + bias + qkNormParams + mlp + 2 * h;
    }

    /** Total parameters, counting a tied lm_head once. */
    public long parameterCount() {
        long embed = (long) vocabSize * hiddenSize;
        return embed + (tieWordEmbeddings ? 0 : embed) + numLayers * layerParameters() + hiddenSize;
    }

    /**
     * Multiply-add FLOPs (2 per MAC) of the decoder layers for a chunk of {@code n} tokens after a prefix of
     * {@code prefix} tokens: the projections plus causal attention (QK^T and PV over prefix + the chunk's
     * lower triangle). Excludes the embedding gather and lm_head.
     */
    public double layerFlops(long prefix, long n) {
        double h = hiddenSize;
        double linear = 2.0 * n * (h * qDim() + 2 * h * kvDim() + (double) qDim() * h + 3 * h * intermediateSize);
        double keysSeen = n * (double) prefix + n * (n + 1) / 2.0;
        double attention = 4.0 * keysSeen * qDim();
        return numLayers * (linear + attention);
    }

    /** FLOPs of the lm_head for {@code rows} positions. */
    public double headFlops(long rows) {
        return 2.0 * rows * hiddenSize * (double) vocabSize;
    }
}
