package io.pipefill.model;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The decoder architectures pipefill runs. They share the pre-norm block (RMSNorm, RoPE attention, SwiGLU MLP)
 * and differ in the details each constant carries: GQA or latent attention, dense or mixture-of-experts MLPs.
 */
public enum Architecture {
    LLAMA("LlamaForCausalLM", "llama", false, false),
    MISTRAL("MistralForCausalLM", "mistral", false, false),
    /** Qwen2 always has biases on q/k/v (not on o). */
    QWEN2("Qwen2ForCausalLM", "qwen2", true, false),
    /** Qwen3 drops the q/k/v bias and adds a per-head RMSNorm on q and k before RoPE. */
    QWEN3("Qwen3ForCausalLM", "qwen3", false, true),
    /** Qwen3 attention with a sparse mixture-of-experts MLP (softmax router, top-k SwiGLU experts). */
    QWEN3_MOE("Qwen3MoeForCausalLM", "qwen3_moe", false, true),
    /**
     * DeepSeek-V3 (and V3.1, the same architecture): multi-head latent attention ({@link MlaConfig}) and a
     * sigmoid-scored, group-limited mixture of experts with shared experts after the first dense layers.
     */
    DEEPSEEK_V3("DeepseekV3ForCausalLM", "deepseek_v3", false, false);

    private final String hfName;
    private final String modelType;
    private final boolean qkvBiasAlways;
    private final boolean qkNorm;

    Architecture(String hfName, String modelType, boolean qkvBiasAlways, boolean qkNorm) {
        this.hfName = hfName;
        this.modelType = modelType;
        this.qkvBiasAlways = qkvBiasAlways;
        this.qkNorm = qkNorm;
    }

    /** The class name Hugging Face writes in config.json "architectures". */
    public String hfName() {
        return hfName;
    }

    /** The config.json "model_type". */
    public String modelType() {
        return modelType;
    }

    public boolean qkvBiasAlways() {
        return qkvBiasAlways;
    }

    public boolean qkNorm() {
        return qkNorm;
    }

    /** Whether the config carries mixture-of-experts fields ({@link MoeConfig}). */
    public boolean mixtureOfExperts() {
        return this == QWEN3_MOE || this == DEEPSEEK_V3;
    }

    /** Whether attention is multi-head latent attention ({@link MlaConfig}) instead of GQA. */
    public boolean latentAttention() {
        return this == DEEPSEEK_V3;
    }

    public static Optional<Architecture> fromHfName(String name) {
        return Arrays.stream(values()).filter(a -> a.hfName.equals(name)).findFirst();
    }

    /** Accepts the short names used on the command line (qwen3-moe, deepseek-v3, ...) or the model_type. */
    public static Architecture fromShortName(String name) {
        return Arrays.stream(values())
                .filter(a -> a.modelType.equalsIgnoreCase(name) || a.cliName().equalsIgnoreCase(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "unknown architecture '" + name + "'; supported: " + shortNames()));
    }

    public static String supportedHfNames() {
        return Arrays.stream(values()).map(Architecture::hfName).collect(Collectors.joining(", "));
    }

    /** The command-line name: the model_type with dashes. */
    public String cliName() {
        return modelType.replace('_', '-');
    }

    public static String shortNames() {
        return Arrays.stream(values()).map(Architecture::cliName).collect(Collectors.joining(", "));
    }
}
