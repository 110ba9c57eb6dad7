package io.pipefill.model;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The decoder architectures pipefill runs. They share the Llama block (RMSNorm, RoPE attention with GQA,
 * SwiGLU MLP) and differ only in the details each constant carries.
 */
public enum Architecture {
    LLAMA("LlamaForCausalLM", "llama", false, false),
    MISTRAL("MistralForCausalLM", "mistral", false, false),
    /** Qwen2 always has biases on q/k/v (not on o). */
    QWEN2("Qwen2ForCausalLM", "qwen2", true, false),
    /** Qwen3 drops the q/k/v bias and adds a per-head RMSNorm on q and k before RoPE. */
    QWEN3("Qwen3ForCausalLM", "qwen3", false, true),
    /** Qwen3 attention with a sparse mixture-of-experts MLP (softmax router, top-k SwiGLU experts). */
    QWEN3_MOE("Qwen3MoeForCausalLM", "qwen3_moe", false, true);

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
        return this == QWEN3_MOE;
    }

    public static Optional<Architecture> fromHfName(String name) {
        return Arrays.stream(values()).filter(a -> a.hfName.equals(name)).findFirst();
    }

    /** Accepts the short names used on the command line: llama, mistral, qwen2, qwen3, qwen3-moe (or qwen3_moe). */
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
