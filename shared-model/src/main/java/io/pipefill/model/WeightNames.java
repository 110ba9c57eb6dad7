package io.pipefill.model;

/** Hugging Face tensor names of the supported checkpoints (Llama family, Qwen3-MoE, DeepSeek-V3). */
public final class WeightNames {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private WeightNames() {
    }

    public static String layer(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    public static String inputNorm(int l) {
        return layer(l, "input_layernorm.weight");
    }

    public static String postAttentionNorm(int l) {
        return layer(l, "post_attention_layernorm.weight");
    }

    public static String attn(int l, String proj) {
        return layer(l, "self_attn." + proj + ".weight");
    }

    public static String attnBias(int l, String proj) {
        return layer(l, "self_attn." + proj + ".bias");
    }

    public static String qNorm(int l) {
        return layer(l, "self_attn.q_norm.weight");
    }

    public static String kNorm(int l) {
        return layer(l, "self_attn.k_norm.weight");
    }

    public static String mlp(int l, String proj) {
        return layer(l, "mlp." + proj + ".weight");
    }

    /** The mixture-of-experts router ("mlp.gate", a linear layer without bias). */
    public static String router(int l) {
        return layer(l, "mlp.gate.weight");
    }

    /** DeepSeek-V3's per-expert bias added to the router's scores for selection only ("noaux_tc"). */
    public static String routerCorrectionBias(int l) {
        return layer(l, "mlp.gate.e_score_correction_bias");
    }

    /** {@code proj} (gate_proj, up_proj, down_proj) of the shared experts (DeepSeek-V3), one SwiGLU MLP. */
    public static String sharedExpert(int l, String proj) {
        return layer(l, "mlp.shared_experts." + proj + ".weight");
    }

    /** Latent attention's RMSNorms: "q_a_layernorm" (low-rank query) and "kv_a_layernorm" (the latent). */
    public static String attnNorm(int l, String norm) {
        return layer(l, "self_attn." + norm + ".weight");
    }

    /** {@code proj} (gate_proj, up_proj, down_proj) of routed expert {@code e}. */
    public static String expert(int l, int e, String proj) {
        return layer(l, "mlp.experts." + e + "." + proj + ".weight");
    }
}
