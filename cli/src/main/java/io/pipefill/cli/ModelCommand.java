package io.pipefill.cli;

import io.pipefill.model.Architecture;
import io.pipefill.model.BlockFp8;
import io.pipefill.model.MlaConfig;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "model", description = "Manage model directories.", mixinStandardHelpOptions = true,
        subcommands = {ModelCommand.Create.class})
final class ModelCommand {

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Write a deterministic random-weight Hugging Face model directory (config.json, "
                    + "model.safetensors in BF16 or block-scaled FP8, byte-level tokenizer.json).")
    static final class Create implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "Directory to create (must not exist or be empty).")
        Path out;

        @Option(names = "--arch", defaultValue = "llama", description = "llama, mistral, qwen2, qwen3, qwen3-moe or deepseek-v3 (default: ${DEFAULT-VALUE}).")
        String arch;

        @Option(names = "--preset", defaultValue = "tiny", description = "tiny (~1M params), small (~100M; qwen3-moe ~190M, deepseek-v3 ~130M) or 8b-shape (dense only) (default: ${DEFAULT-VALUE}).")
        String preset;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--dtype", defaultValue = "bf16", description = "Weight format: bf16, or fp8 (float8_e4m3fn "
                + "with a float32 weight_scale_inv per [128, 128] block, as DeepSeek-V3 and Qwen3-FP8 ship; embedding, "
                + "lm_head, norms and routers stay bf16) (default: ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--vocab", description = "Override vocab_size.")
        Integer vocab;
        @Option(names = "--hidden", description = "Override hidden_size.")
        Integer hidden;
        @Option(names = "--intermediate", description = "Override intermediate_size.")
        Integer intermediate;
        @Option(names = "--layers", description = "Override num_hidden_layers.")
        Integer layers;
        @Option(names = "--heads", description = "Override num_attention_heads.")
        Integer heads;
        @Option(names = "--kv-heads", description = "Override num_key_value_heads.")
        Integer kvHeads;
        @Option(names = "--head-dim", description = "Override head_dim.")
        Integer headDim;
        @Option(names = "--max-positions", description = "Override max_position_embeddings.")
        Integer maxPositions;
        @Option(names = "--q-lora-rank", description = "deepseek-v3 only: override q_lora_rank; 0 writes null (one q_proj "
                + "instead of q_a_proj, q_a_layernorm and q_b_proj).")
        Integer qLoraRank;

        @Override
        public Integer call() throws Exception {
            ModelConfig base = ModelPreset.fromCliName(preset).config(Architecture.fromShortName(arch));
            MlaConfig mla = base.mla();
            if (qLoraRank != null) {
                if (mla == null) {
                    throw new IllegalArgumentException("--q-lora-rank is for latent attention (--arch deepseek-v3), not "
                            + base.architecture().cliName());
                }
                mla = new MlaConfig(qLoraRank, mla.kvLoraRank(), mla.qkNopeHeadDim(), mla.qkRopeHeadDim(), mla.vHeadDim(),
                        mla.ropeInterleave());
            }
            int h = or(heads, base.numHeads());
            // latent attention has a key and value per head: the kv heads follow the heads
            int kv = mla != null ? or(kvHeads, h) : or(kvHeads, base.numKvHeads());
            ModelConfig c = new ModelConfig(base.architecture(), or(vocab, base.vocabSize()), or(hidden, base.hiddenSize()),
                    or(intermediate, base.intermediateSize()), or(layers, base.numLayers()), h, kv,
                    or(headDim, base.headDim()), or(maxPositions, base.maxPositionEmbeddings()), base.ropeTheta(),
                    base.ropeScaling(), base.rmsNormEps(), base.tieWordEmbeddings(), base.attentionBias(),
                    base.torchDtype(), base.moe(), fp8(), mla);
            long t0 = System.nanoTime();
            new ModelGenerator(c, seed).write(out);
            System.out.printf("wrote %s: %s, %d layers, hidden %d, %.1fM parameters, seed %d (%.1f s)%n", out,
                    c.architecture().hfName(), c.numLayers(), c.hiddenSize(), c.parameterCount() / 1e6, seed,
                    (System.nanoTime() - t0) / 1e9);
            return 0;
        }

        private BlockFp8 fp8() {
            switch (dtype.toLowerCase(java.util.Locale.ROOT)) {
                case "bf16":
                    return null;
                case "fp8":
                    return BlockFp8.DEEPSEEK;
                default:
                    throw new IllegalArgumentException("unknown --dtype '" + dtype + "'; supported: bf16, fp8");
            }
        }

        private static int or(Integer v, int fallback) {
            return v == null ? fallback : v;
        }
    }
}
