package io.pipefill.model.create;

import io.pipefill.model.BlockFp8;
import io.pipefill.model.CheckpointTensors;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelConfigJson;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.SafetensorsWriter;
import io.pipefill.model.create.ByteLevelTokenizerJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a complete random-weight Hugging Face model directory: config.json, model.safetensors (BF16, or the
 * projections in block-scaled FP8 with their weight_scale_inv when the config has {@link BlockFp8}) and a
 * byte-level tokenizer.json. Deterministic for a seed: every tensor draws from its own stream, seeded by the
 * model seed and the tensor's name.
 *
 * <p>Scales keep activations well-conditioned through any depth: projections have variance 1/fan_in (so
 * each preserves the scale of its input), and the two projections that write into the residual stream
 * (o_proj, down_proj) are further scaled by 1/√(2·layers), so the residual grows to about √2 of the
 * embedding's scale however deep the model is.
 */
public final class ModelGenerator {
    private final ModelConfig config;
    private final long seed;

    public ModelGenerator(ModelConfig config, long seed) {
        if (config.vocabSize() < ByteLevelTokenizerJson.EOS_ID + 1) {
            throw new IllegalArgumentException("vocab_size must be at least " + (ByteLevelTokenizerJson.EOS_ID + 1)
                    + " to hold the byte-level tokenizer, got " + config.vocabSize());
        }
        this.config = config;
        this.seed = seed;
    }

    /** Writes the directory, which must not exist or be empty. */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (var entries = Files.list(dir)) {
            if (entries.findAny().isPresent()) {
                throw new IllegalArgumentException(dir + " is not empty; choose a new directory or remove it first");
            }
        }
        ModelConfig c = config;
        double residualScale = 1.0 / Math.sqrt(2.0 * c.numLayers());
        SafetensorsWriter w = new SafetensorsWriter();
        for (CheckpointTensors.Tensor t : CheckpointTensors.of(c)) {
            String name = t.name();
            long[] shape = t.shape();
            double fanIn = t.columns();
            switch (t.role()) {
                case EMBEDDING:
                    w.add(name, DType.BF16, shape, uniform(name, 0, 1.0));
                    break;
                case NORM:
                    w.add(name, DType.BF16, shape, uniform(name, 1.0, 0.1));
                    break;
                case BIAS:
                    w.add(name, DType.BF16, shape, uniform(name, 0, 0.1));
                    break;
                case PROJECTION:
                    linear(w, name, shape[0], shape[1], 1.0);
                    break;
                case RESIDUAL_PROJECTION:
                    linear(w, name, shape[0], shape[1], residualScale);
                    break;
                case ROUTER:
                    // logits of unit scale: a real preference among experts, not a one-hot one; kept in bf16 as
                    // FP8 checkpoints keep it
                    w.add(name, DType.BF16, shape, uniform(name, 0, 1.0 / Math.sqrt(fanIn)));
                    break;
                case CORRECTION_BIAS:
                    // about half the spread of the sigmoid scores it is added to: it changes some selections
                    w.add(name, DType.F32, shape, uniform(name, 0, 0.1));
                    break;
                case LM_HEAD:
                    // logits with a standard deviation of about 2: a clear greedy winner, still a real distribution
                    w.add(name, DType.BF16, shape, uniform(name, 0, 2.0 / Math.sqrt(fanIn)));
                    break;
                default:
                    throw new IllegalStateException("no generator for " + t.role());
            }
        }
        w.write(dir.resolve(ModelDirectory.SINGLE_FILE));
        Files.writeString(dir.resolve("config.json"),
                ModelConfigJson.write(c, ByteLevelTokenizerJson.BOS_ID, ByteLevelTokenizerJson.EOS_ID), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("tokenizer.json"), ByteLevelTokenizerJson.build(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig(), StandardCharsets.UTF_8);
    }

    /** A projection: BF16, or block-scaled FP8 with its scale when the config asks for FP8 weights. */
    private void linear(SafetensorsWriter w, String name, long out, long in, double gain) {
        SafetensorsWriter.Filler values = uniform(name, 0, gain / Math.sqrt(in));
        if (config.fp8() == null) {
            w.add(name, DType.BF16, new long[] {out, in}, values);
            return;
        }
        BlockFp8 b = config.fp8();
        float[] v = new float[Math.toIntExact(out * in)];
        values.fill(0, v, v.length);
        long[] scaleShape = b.scaleShape(out, in);
        int sr = (int) scaleShape[0];
        int sc = (int) scaleShape[1];
        float[] scale = new float[sr * sc];
        for (int bi = 0; bi < sr; bi++) {
            for (int bj = 0; bj < sc; bj++) {
                float max = 0;
                for (int r = bi * b.blockRows(); r < Math.min(out, (long) (bi + 1) * b.blockRows()); r++) {
                    for (int col = bj * b.blockCols(); col < Math.min(in, (long) (bj + 1) * b.blockCols()); col++) {
                        max = Math.max(max, Math.abs(v[(int) (r * in) + col]));
                    }
                }
                // the block's largest value maps to the largest FP8 magnitude
                scale[bi * sc + bj] = max == 0 ? 1f : max / DType.E4M3_MAX;
            }
        }
        for (int i = 0; i < v.length; i++) {
            int r = (int) (i / in);
            int col = (int) (i % in);
            v[i] = DType.e4m3ToFloat(DType.floatToE4M3(v[i] / scale[(r / b.blockRows()) * sc + col / b.blockCols()]));
        }
        w.add(name, DType.F8_E4M3, new long[] {out, in}, (first, block, count) -> System.arraycopy(v, (int) first, block, 0, count));
        w.add(name + "_scale_inv", DType.F32, scaleShape, (first, block, count) -> System.arraycopy(scale, (int) first, block, 0, count));
    }

    /** Uniform values with the given mean and standard deviation (half-width √3·std). */
    private SafetensorsWriter.Filler uniform(String tensor, double mean, double std) {
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ tensor.hashCode());
        double halfWidth = Math.sqrt(3.0) * std;
        return (first, block, count) -> {
            for (int i = 0; i < count; i++) {
                block[i] = (float) (mean + halfWidth * (2 * rng.nextDouble() - 1));
            }
        };
    }

    /**
     * A small Jinja chat template in the usual shape (BOS, each message as {@code <|role|>} line, content and EOS,
     * then the assistant's turn opened), so that the OpenAI chat route can be exercised on generated models.
     */
    public static final String CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
            + "{{ message['content'] }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

    private static String tokenizerConfig() {
        return "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"bos_token\": \"" + ByteLevelTokenizerJson.BOS
                + "\",\n  \"eos_token\": \"" + ByteLevelTokenizerJson.EOS + "\",\n  \"add_bos_token\": true,\n"
                + "  \"chat_template\": \"" + CHAT_TEMPLATE.replace("\n", "\\n") + "\",\n"
                + "  \"model_max_length\": 1000000000\n}\n";
    }
}
