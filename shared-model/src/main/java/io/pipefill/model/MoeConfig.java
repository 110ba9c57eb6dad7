package io.pipefill.model;

import java.util.List;

/**
 * The sparse mixture-of-experts part of a Qwen3-MoE config.json: which layers route each token to
 * {@code topK} of {@code numExperts} SwiGLU experts, and how the router's weights are formed.
 *
 * @param numExperts             routed experts per sparse layer ("num_experts")
 * @param topK                   experts each token uses ("num_experts_per_tok")
 * @param expertIntermediateSize each expert's SwiGLU width ("moe_intermediate_size")
 * @param normTopkProb           whether the top-k softmax weights are renormalised to sum to 1 ("norm_topk_prob")
 * @param decoderSparseStep      layer l is sparse when (l + 1) is a multiple of it ("decoder_sparse_step")
 * @param mlpOnlyLayers          layers kept dense whatever the step ("mlp_only_layers")
 */
public record MoeConfig(int numExperts, int topK, int expertIntermediateSize, boolean normTopkProb,
                        int decoderSparseStep, List<Integer> mlpOnlyLayers) {

    public MoeConfig {
        if (numExperts <= 0) {
            throw new IllegalArgumentException("num_experts must be a positive integer, got " + numExperts);
        }
        if (topK <= 0 || topK > numExperts) {
            throw new IllegalArgumentException("num_experts_per_tok must be in [1, num_experts = " + numExperts
                    + "], got " + topK);
        }
        if (expertIntermediateSize <= 0) {
            throw new IllegalArgumentException("moe_intermediate_size must be a positive integer, got "
                    + expertIntermediateSize);
        }
        if (decoderSparseStep <= 0) {
            throw new IllegalArgumentException("decoder_sparse_step must be a positive integer, got " + decoderSparseStep);
        }
        mlpOnlyLayers = List.copyOf(mlpOnlyLayers);
    }

    /** Whether layer {@code layer} (global index) has the sparse MLP, by Hugging Face's Qwen3-MoE rule. */
    public boolean isSparse(int layer) {
        return !mlpOnlyLayers.contains(layer) && (layer + 1) % decoderSparseStep == 0;
    }

    /** Parameters of one sparse MLP: the router and every expert. */
    public long sparseParameters(long hidden) {
        return numExperts * hidden + numExperts * 3L * hidden * expertIntermediateSize;
    }

    /** Parameters one token uses in a sparse MLP: the router and its top-k experts. */
    public long activeSparseParameters(long hidden) {
        return numExperts * hidden + topK * 3L * hidden * expertIntermediateSize;
    }
}
