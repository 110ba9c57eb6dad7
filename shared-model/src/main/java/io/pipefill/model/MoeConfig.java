package io.pipefill.model;

import java.util.List;

/**
 * The sparse mixture-of-experts part of a config.json (Qwen3-MoE or DeepSeek-V3): which layers route each token
 * to {@code topK} of {@code numExperts} SwiGLU experts, how the router's weights are formed, and the shared
 * experts every token also goes through. DeepSeek's {@code first_k_dense_replace} and {@code moe_layer_freq}
 * are read into {@code mlpOnlyLayers} (with a step of 1), so one rule says which layers are sparse.
 *
 * @param numExperts             routed experts per sparse layer ("num_experts", "n_routed_experts")
 * @param topK                   experts each token uses ("num_experts_per_tok")
 * @param expertIntermediateSize each expert's SwiGLU width ("moe_intermediate_size")
 * @param normTopkProb           whether the top-k weights are renormalised to sum to 1 ("norm_topk_prob")
 * @param decoderSparseStep      layer l is sparse when (l + 1) is a multiple of it ("decoder_sparse_step")
 * @param mlpOnlyLayers          layers kept dense whatever the step ("mlp_only_layers")
 * @param routing                how the router scores and selects experts
 * @param sharedExperts          experts every token uses ("n_shared_experts"): one SwiGLU MLP of
 *                               {@code sharedExperts × expertIntermediateSize}; 0 for Qwen3-MoE
 */
public record MoeConfig(int numExperts, int topK, int expertIntermediateSize, boolean normTopkProb,
                        int decoderSparseStep, List<Integer> mlpOnlyLayers, Routing routing, int sharedExperts) {

    /** How router logits become scores and which experts they select. */
    public enum Scoring {
        /** Qwen3-MoE: softmax over every expert; the weights are the chosen probabilities. */
        SOFTMAX("softmax"),
        /** DeepSeek-V3: an independent sigmoid per expert. */
        SIGMOID("sigmoid");

        private final String jsonName;

        Scoring(String jsonName) {
            this.jsonName = jsonName;
        }

        public String jsonName() {
            return jsonName;
        }
    }

    /**
     * @param scoring        softmax (Qwen3-MoE) or sigmoid ("scoring_func")
     * @param groups         expert groups ("n_group"); selection first keeps the {@code topkGroups} groups with the
     *                       highest sum of their two best scores ("topk_method": "noaux_tc"); 1 for plain top-k
     * @param topkGroups     groups kept ("topk_group")
     * @param correctionBias whether {@code mlp.gate.e_score_correction_bias} is added to the scores for selection
     *                       only (noaux_tc); the weights stay the uncorrected scores
     * @param scalingFactor  what the final weights are multiplied by ("routed_scaling_factor")
     */
    public record Routing(Scoring scoring, int groups, int topkGroups, boolean correctionBias, double scalingFactor) {
        /** Qwen3-MoE's router. */
        public static final Routing SOFTMAX_TOP_K = new Routing(Scoring.SOFTMAX, 1, 1, false, 1.0);

        public Routing {
            if (groups <= 0) {
                throw new IllegalArgumentException("n_group must be a positive integer, got " + groups);
            }
            if (topkGroups <= 0 || topkGroups > groups) {
                throw new IllegalArgumentException("topk_group must be in [1, n_group = " + groups + "], got " + topkGroups);
            }
            if (!(scalingFactor > 0) || Double.isInfinite(scalingFactor)) {
                throw new IllegalArgumentException("routed_scaling_factor must be a finite number > 0, got " + scalingFactor);
            }
            if (groups > 1 && scoring != Scoring.SIGMOID) {
                throw new IllegalArgumentException("group-limited routing (n_group " + groups + ") is the sigmoid router's "
                        + "(scoring_func sigmoid, topk_method noaux_tc)");
            }
        }
    }

    /** Qwen3-MoE: softmax top-k, no shared experts. */
    public MoeConfig(int numExperts, int topK, int expertIntermediateSize, boolean normTopkProb, int decoderSparseStep,
                     List<Integer> mlpOnlyLayers) {
        this(numExperts, topK, expertIntermediateSize, normTopkProb, decoderSparseStep, mlpOnlyLayers,
                Routing.SOFTMAX_TOP_K, 0);
    }

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
        if (sharedExperts < 0) {
            throw new IllegalArgumentException("n_shared_experts must be an integer >= 0, got " + sharedExperts);
        }
        if (numExperts % routing.groups() != 0) {
            throw new IllegalArgumentException("n_routed_experts (" + numExperts + ") must be divisible by n_group ("
                    + routing.groups() + "): every group holds the same number of experts");
        }
        int perGroup = numExperts / routing.groups();
        if (routing.groups() > 1 && perGroup < 2) {
            throw new IllegalArgumentException("n_group " + routing.groups() + " leaves " + perGroup + " expert per group; "
                    + "a group is scored by its two best experts, so it needs at least 2 (n_routed_experts / n_group)");
        }
        if (topK > routing.topkGroups() * perGroup) {
            throw new IllegalArgumentException("num_experts_per_tok (" + topK + ") is more than the " + routing.topkGroups()
                    + " kept groups (topk_group) of " + perGroup + " experts hold");
        }
        mlpOnlyLayers = List.copyOf(mlpOnlyLayers);
    }

    /** Whether layer {@code layer} (global index) has the sparse MLP. */
    public boolean isSparse(int layer) {
        return !mlpOnlyLayers.contains(layer) && (layer + 1) % decoderSparseStep == 0;
    }

    /** Width of the shared experts' one SwiGLU MLP (0 without shared experts). */
    public int sharedIntermediateSize() {
        return sharedExperts * expertIntermediateSize;
    }

    /** Parameters of one sparse MLP: the router (and its correction bias), every expert and the shared ones. */
    public long sparseParameters(long hidden) {
        return numExperts * hidden + (routing.correctionBias() ? numExperts : 0)
                + (numExperts * 3L * expertIntermediateSize + 3L * sharedIntermediateSize()) * hidden;
    }

    /** Parameters one token uses in a sparse MLP: the router, its top-k experts and the shared ones. */
    public long activeSparseParameters(long hidden) {
        return numExperts * hidden + (topK * 3L * expertIntermediateSize + 3L * sharedIntermediateSize()) * hidden;
    }
}
