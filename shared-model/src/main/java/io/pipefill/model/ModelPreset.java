package io.pipefill.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Shapes for generated models. {@code tiny} is for unit tests, {@code small} (~100M parameters) for CPU
 * benchmarks, {@code 8b-shape} has Llama-3.1-8B's dimensions for GPU throughput runs.
 */
public enum ModelPreset {
    TINY("tiny", 512, 128, 384, 4, 4, 2, 32, 8192, 10000.0, new RopeScaling(8.0, 1.0, 4.0, 1024)),
    SMALL("small", 32000, 768, 2048, 12, 12, 4, 64, 131072, 500000.0, null),
    EIGHT_B_SHAPE("8b-shape", 128256, 4096, 14336, 32, 32, 8, 128, 131072, 500000.0,
            new RopeScaling(8.0, 1.0, 4.0, 8192));

    private final String cliName;
    private final int vocab;
    private final int hidden;
    private final int intermediate;
    private final int layers;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int maxPositions;
    private final double ropeTheta;
    private final RopeScaling ropeScaling;

    ModelPreset(String cliName, int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads,
                int headDim, int maxPositions, double ropeTheta, RopeScaling ropeScaling) {
        this.cliName = cliName;
        this.vocab = vocab;
        this.hidden = hidden;
        this.intermediate = intermediate;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        this.ropeTheta = ropeTheta;
        this.ropeScaling = ropeScaling;
    }

    public String cliName() {
        return cliName;
    }

    /**
     * The preset's shape for an architecture; Qwen2 gets its q/k/v biases, Qwen3 its q/k norms. Qwen3-MoE has
     * shapes of its own: tiny (8 experts, top-2, layer 1 dense) and small (~190M parameters, 32 experts, top-4).
     */
    public ModelConfig config(Architecture arch) {
        if (arch == Architecture.QWEN3_MOE) {
            return qwen3Moe();
        }
        if (arch == Architecture.DEEPSEEK_V3) {
            return deepseekV3();
        }
        // small Qwen models tie the lm_head to the embedding; covering both ways keeps both code paths tested
        boolean tie = this == TINY && (arch == Architecture.QWEN2 || arch == Architecture.QWEN3);
        return new ModelConfig(arch, vocab, hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions,
                ropeTheta, arch == Architecture.LLAMA ? ropeScaling : null, 1e-5, tie,
                arch == Architecture.QWEN2, "bfloat16");
    }

    private ModelConfig qwen3Moe() {
        switch (this) {
            case TINY:
                return new ModelConfig(Architecture.QWEN3_MOE, vocab, hidden, intermediate, layers, heads, kvHeads,
                        headDim, maxPositions, ropeTheta, null, 1e-6, false, false, "bfloat16",
                        new MoeConfig(8, 2, 64, true, 1, java.util.List.of(1)), null);
            case SMALL:
                return new ModelConfig(Architecture.QWEN3_MOE, 32000, 512, 1536, 8, 8, 4, 64, 131072, 1000000.0,
                        null, 1e-6, false, false, "bfloat16", new MoeConfig(32, 4, 384, true, 1, java.util.List.of()), null);
            default:
                throw new IllegalArgumentException("preset '" + cliName + "' has no qwen3-moe shape; available: tiny, small");
        }
    }

    /**
     * DeepSeek-V3's shape scaled down, with every mechanism exercised: latent attention with the low-rank query
     * (tiny's rms_norm_eps 1e-5 differs from the inner norms' fixed 1e-6, as in the config the engine must not
     * confuse them with),
     * YaRN (mscale_all_dim differing from mscale, so both corrections show; max_position_embeddings = factor ×
     * original_max_position_embeddings, which every reading of the yarn fields agrees on), one dense first layer, then sparse
     * layers of 4 groups of routed experts (2 groups kept, top-4) plus a shared expert. tiny: 16 experts, 3 layers;
     * small (~130M parameters, ~20M active per token): 32 experts, 8 layers.
     */
    private ModelConfig deepseekV3() {
        MoeConfig.Routing routing = new MoeConfig.Routing(MoeConfig.Scoring.SIGMOID, 4, 2, true, 2.5);
        switch (this) {
            case TINY:
                return new ModelConfig(Architecture.DEEPSEEK_V3, vocab, hidden, 256, 3, 4, 4, 16, maxPositions,
                        ropeTheta, RopeScaling.yarn(4.0, 2048, 32, 1, 1.0, 0.8), 1e-5, false, false, "bfloat16",
                        new MoeConfig(16, 4, 64, true, 1, java.util.List.of(0), routing, 1), null,
                        new MlaConfig(64, 32, 32, 16, 32, true));
            case SMALL:
                return new ModelConfig(Architecture.DEEPSEEK_V3, 32000, 512, 1536, 8, 8, 8, 32, 131072, 10000.0,
                        RopeScaling.yarn(4.0, 32768, 32, 1, 1.0, 1.0), 1e-6, false, false, "bfloat16",
                        new MoeConfig(32, 4, 256, true, 1, java.util.List.of(0), routing, 1), null,
                        new MlaConfig(192, 128, 64, 32, 64, true));
            default:
                throw new IllegalArgumentException("preset '" + cliName + "' has no deepseek-v3 shape; available: tiny, small");
        }
    }

    public static ModelPreset fromCliName(String name) {
        return Arrays.stream(values()).filter(p -> p.cliName.equalsIgnoreCase(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown preset '" + name + "'; available: "
                        + Arrays.stream(values()).map(ModelPreset::cliName).collect(Collectors.joining(", "))));
    }
}
