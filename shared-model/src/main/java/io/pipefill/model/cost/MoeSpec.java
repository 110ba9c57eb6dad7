package io.pipefill.model.cost;

/**
 * A mixture-of-experts MLP: {@code experts} routed SwiGLU experts of width {@code expertIntermediate}, of which
 * {@code activeExperts} run per token, plus always-on shared experts of total width {@code sharedIntermediate}
 * (0 if none) and a router of hidden × experts.
 */
public record MoeSpec(int experts, int activeExperts, int expertIntermediate, int sharedIntermediate) {

    public MoeSpec {
        if (experts <= 0 || activeExperts <= 0 || expertIntermediate <= 0 || sharedIntermediate < 0) {
            throw new IllegalArgumentException("MoE needs positive expert count, experts per token and"
                    + " moe_intermediate_size, got " + experts + ", " + activeExperts + ", " + expertIntermediate);
        }
        if (activeExperts > experts) {
            throw new IllegalArgumentException("num_experts_per_tok (" + activeExperts + ") exceeds the expert count ("
                    + experts + ")");
        }
    }

    /**
     * Expected share of experts that receive at least one of {@code tokens} tokens under uniform routing:
     * 1 − (1 − k/E)^n. Only those experts' weights are read, which matters for the memory-bound floor of
     * short chunks.
     */
    public double shareTouched(int tokens) {
        return 1 - Math.pow(1 - (double) activeExperts / experts, tokens);
    }
}
