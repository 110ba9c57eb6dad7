package io.pipefill.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;

/** Reads and writes Hugging Face config.json files, with errors that name the file and the field. */
public final class ModelConfigJson {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ModelConfigJson() {
    }

    /** The largest config.json read: Hugging Face's are a few KB; a larger one is not a model's config. */
    public static final long MAX_BYTES = 1 << 20;

    /**
     * Reads a config.json: a regular file (never a FIFO or device, which would block or never end) of at most
     * {@link #MAX_BYTES}.
     */
    public static ModelConfig read(Path file) {
        String text;
        try {
            text = ModelFiles.readUtf8(file, MAX_BYTES);
        } catch (ModelFiles.MissingFileException e) {
            throw new ModelConfigException(file + ": not found (a model directory needs a Hugging Face config.json)");
        } catch (ModelFiles.UnfitFileException e) {
            throw new ModelConfigException(file + ": " + e.getMessage() + " (a Hugging Face config.json)");
        } catch (IOException e) {
            throw new ModelConfigException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    /** Parses config.json text; {@code source} names it in errors. */
    public static ModelConfig parse(String text, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            // the parser's own message quotes the text it choked on: keep file contents out of the error
            throw new ModelConfigException(source + ": malformed JSON at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelConfigException(source + ": expected a JSON object at the top level");
        }
        Fields f = new Fields(root, source);
        Architecture arch = architecture(root, source);
        int hidden = f.requiredInt("hidden_size");
        int heads = f.requiredInt("num_attention_heads");
        int kvHeads = f.optionalInt("num_key_value_heads", heads);
        if (hidden % heads != 0 && !root.hasNonNull("head_dim") && !arch.latentAttention()) {
            throw new ModelConfigException(source + ": hidden_size (" + hidden + ") is not divisible by num_attention_heads ("
                    + heads + ") and no head_dim is given");
        }
        MlaConfig mla = arch.latentAttention() ? mla(f, source) : null;
        // Hugging Face's DeepseekV3Config sets head_dim to the rotary width whatever the file says
        int headDim = mla != null ? mla.qkRopeHeadDim() : f.optionalInt("head_dim", hidden / heads);
        int layers = f.requiredInt("num_hidden_layers");
        MoeConfig moe = !arch.mixtureOfExperts() ? null
                : arch == Architecture.DEEPSEEK_V3 ? deepseekMoe(f, source, layers) : moe(f, source);
        try {
            return new ModelConfig(
                    arch,
                    f.requiredInt("vocab_size"),
                    hidden,
                    f.requiredInt("intermediate_size"),
                    layers,
                    heads,
                    kvHeads,
                    headDim,
                    f.optionalInt("max_position_embeddings", 4096),
                    f.optionalDouble("rope_theta", 10000.0),
                    ropeScaling(root.get("rope_scaling"), source),
                    f.optionalDouble("rms_norm_eps", 1e-6),
                    f.optionalBoolean("tie_word_embeddings", false),
                    f.optionalBoolean("attention_bias", false),
                    root.hasNonNull("torch_dtype") ? root.get("torch_dtype").asText() : "bfloat16",
                    moe, fp8(root.get("quantization_config"), source), mla);
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /** quantization_config: only block-scaled FP8 (DeepSeek-V3, Qwen3-*-FP8) is read; absent means unquantised. */
    private static BlockFp8 fp8(JsonNode node, String source) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new ModelConfigException(source + ": field 'quantization_config' must be an object or null");
        }
        String method = node.hasNonNull("quant_method") ? node.get("quant_method").asText() : "";
        if (!method.equals("fp8")) {
            throw new ModelConfigException(source + ": unsupported quantization_config.quant_method '" + method
                    + "'; supported: fp8 (block-scaled float8_e4m3fn)");
        }
        if (node.hasNonNull("fmt") && !node.get("fmt").asText().equals("e4m3")) {
            throw new ModelConfigException(source + ": unsupported quantization_config.fmt '" + node.get("fmt").asText()
                    + "'; supported: e4m3");
        }
        JsonNode block = node.get("weight_block_size");
        if (block == null || !block.isArray() || block.size() != 2 || !block.get(0).canConvertToInt()
                || !block.get(1).canConvertToInt() || !block.get(0).isIntegralNumber() || !block.get(1).isIntegralNumber()) {
            throw new ModelConfigException(source + ": quantization_config.weight_block_size must be a list of two "
                    + "integers (e.g. [128, 128]), got " + block);
        }
        try {
            return new BlockFp8(block.get(0).intValue(), block.get(1).intValue());
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /** Qwen3-MoE's fields; the optional ones default as in transformers' Qwen3MoeConfig. */
    private static MoeConfig moe(Fields f, String source) {
        try {
            return new MoeConfig(f.requiredInt("num_experts"), f.requiredInt("num_experts_per_tok"),
                    f.requiredInt("moe_intermediate_size"), f.optionalBoolean("norm_topk_prob", false),
                    f.optionalInt("decoder_sparse_step", 1), f.optionalIntList("mlp_only_layers"));
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /** DeepSeek-V3's latent-attention fields; rope_interleave defaults to true as in transformers. */
    private static MlaConfig mla(Fields f, String source) {
        try {
            return new MlaConfig(qLoraRank(f, source), f.requiredInt("kv_lora_rank"),
                    f.requiredInt("qk_nope_head_dim"), f.requiredInt("qk_rope_head_dim"), f.requiredInt("v_head_dim"),
                    f.optionalBoolean("rope_interleave", true));
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /**
     * q_lora_rank: null means one q_proj (0 here); absent means transformers' default 1536; an integer must be
     * positive (both reference implementations test for null, so 0 is not a way to say "none").
     */
    private static int qLoraRank(Fields f, String source) {
        JsonNode v = f.node().get("q_lora_rank");
        if (v != null && v.isNull()) {
            return 0;
        }
        int rank = f.optionalInt("q_lora_rank", 1536);
        if (rank <= 0) {
            throw new ModelConfigException(source + ": q_lora_rank must be a positive integer or null (one q_proj), got "
                    + rank);
        }
        return rank;
    }

    /**
     * DeepSeek-V3's mixture of experts. Optional fields default as in transformers' DeepseekV3Config; the router
     * must be the one V3 ships (scoring_func sigmoid, topk_method noaux_tc), the only one implemented.
     */
    private static MoeConfig deepseekMoe(Fields f, String source, int layers) {
        String scoring = f.optionalText("scoring_func", "sigmoid");
        if (!scoring.equals("sigmoid")) {
            throw new ModelConfigException(source + ": unsupported scoring_func '" + scoring + "'; supported: sigmoid "
                    + "(DeepSeek-V3)");
        }
        String method = f.optionalText("topk_method", "noaux_tc");
        if (!method.equals("noaux_tc")) {
            throw new ModelConfigException(source + ": unsupported topk_method '" + method + "'; supported: noaux_tc "
                    + "(DeepSeek-V3's group-limited top-k with e_score_correction_bias)");
        }
        int firstDense = f.optionalInt("first_k_dense_replace", 3);
        int freq = f.optionalInt("moe_layer_freq", 1);
        if (freq <= 0 || firstDense < 0) {
            throw new ModelConfigException(source + ": moe_layer_freq must be a positive integer and first_k_dense_replace "
                    + "an integer >= 0, got " + freq + " and " + firstDense);
        }
        java.util.List<Integer> dense = new java.util.ArrayList<>();
        for (int l = 0; l < layers; l++) {
            if (l < firstDense || l % freq != 0) {
                dense.add(l);
            }
        }
        try {
            MoeConfig.Routing routing = new MoeConfig.Routing(MoeConfig.Scoring.SIGMOID, f.optionalInt("n_group", 8),
                    f.optionalInt("topk_group", 4), true, f.optionalDouble("routed_scaling_factor", 2.5));
            return new MoeConfig(f.requiredInt("n_routed_experts"), f.requiredInt("num_experts_per_tok"),
                    f.requiredInt("moe_intermediate_size"), f.optionalBoolean("norm_topk_prob", true), 1, dense, routing,
                    f.node().has("n_shared_experts") && f.node().get("n_shared_experts").isNull() ? 0
                            : f.optionalInt("n_shared_experts", 1)); // null: none, as DeepSeek's code reads it
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    private static Architecture architecture(JsonNode root, String source) {
        JsonNode archs = root.get("architectures");
        if (archs == null || !archs.isArray() || archs.isEmpty() || !archs.get(0).isTextual()) {
            throw new ModelConfigException(source + ": field 'architectures' must be a non-empty list of class names; supported: "
                    + Architecture.supportedHfNames());
        }
        String name = archs.get(0).asText();
        return Architecture.fromHfName(name).orElseThrow(() -> new ModelConfigException(
                source + ": unsupported architecture '" + name + "'; supported: " + Architecture.supportedHfNames()));
    }

    private static RopeScaling ropeScaling(JsonNode node, String source) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new ModelConfigException(source + ": field 'rope_scaling' must be an object or null");
        }
        String type = node.hasNonNull("rope_type") ? node.get("rope_type").asText()
                : node.hasNonNull("type") ? node.get("type").asText() : "";
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3") && !type.equals("yarn")) {
            throw new ModelConfigException(source + ": unsupported rope_scaling type '" + type
                    + "'; supported: llama3, yarn (DeepSeek-V3), or null");
        }
        Fields f = new Fields(node, source + " rope_scaling");
        try {
            if (type.equals("yarn")) {
                if (node.has("truncate") && !node.get("truncate").asBoolean(true)) {
                    throw new ModelConfigException(source + ": rope_scaling.truncate false is not supported; the yarn "
                            + "correction range is rounded (floor and ceil) as DeepSeek-V3 does; allowed: true or absent");
                }
                if (node.hasNonNull("attention_factor")) {
                    throw new ModelConfigException(source + ": rope_scaling.attention_factor is not supported; the yarn "
                            + "attention scale comes from mscale and mscale_all_dim");
                }
                return RopeScaling.yarn(f.requiredDouble("factor"), f.requiredInt("original_max_position_embeddings"),
                        f.optionalDouble("beta_fast", 32), f.optionalDouble("beta_slow", 1), f.optionalDouble("mscale", 1),
                        f.optionalDouble("mscale_all_dim", 0));
            }
            return new RopeScaling(f.requiredDouble("factor"), f.optionalDouble("low_freq_factor", 1.0),
                    f.optionalDouble("high_freq_factor", 4.0), f.requiredInt("original_max_position_embeddings"));
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /**
     * Serialises a config as Hugging Face would write it, so that other tools load it unchanged.
     * The special token ids are those of the tokenizer shipped beside it.
     */
    public static String write(ModelConfig c, int bosTokenId, int eosTokenId) {
        ObjectNode root = MAPPER.createObjectNode();
        ArrayNode archs = root.putArray("architectures");
        archs.add(c.architecture().hfName());
        root.put("model_type", c.architecture().modelType());
        root.put("vocab_size", c.vocabSize());
        root.put("hidden_size", c.hiddenSize());
        root.put("intermediate_size", c.intermediateSize());
        root.put("num_hidden_layers", c.numLayers());
        root.put("num_attention_heads", c.numHeads());
        root.put("num_key_value_heads", c.numKvHeads());
        root.put("head_dim", c.headDim());
        if (c.mla() != null) {
            MlaConfig a = c.mla();
            if (a.hasQLora()) {
                root.put("q_lora_rank", a.qLoraRank());
            } else {
                root.putNull("q_lora_rank");
            }
            root.put("kv_lora_rank", a.kvLoraRank());
            root.put("qk_nope_head_dim", a.qkNopeHeadDim());
            root.put("qk_rope_head_dim", a.qkRopeHeadDim());
            root.put("v_head_dim", a.vHeadDim());
            root.put("rope_interleave", a.ropeInterleave());
        }
        root.put("max_position_embeddings", c.maxPositionEmbeddings());
        root.put("rope_theta", c.ropeTheta());
        if (c.ropeScaling() == null) {
            root.putNull("rope_scaling");
        } else {
            RopeScaling r = c.ropeScaling();
            ObjectNode rs = root.putObject("rope_scaling");
            rs.put("rope_type", r.type().jsonName());
            rs.put("factor", r.factor());
            if (r.type() == RopeScaling.Type.YARN) {
                rs.put("type", "yarn"); // DeepSeek's own modelling code reads "type"
                rs.put("beta_fast", r.betaFast());
                rs.put("beta_slow", r.betaSlow());
                rs.put("mscale", r.mscale());
                rs.put("mscale_all_dim", r.mscaleAllDim());
            } else {
                rs.put("low_freq_factor", r.lowFreqFactor());
                rs.put("high_freq_factor", r.highFreqFactor());
            }
            rs.put("original_max_position_embeddings", r.originalMaxPositionEmbeddings());
        }
        root.put("rms_norm_eps", c.rmsNormEps());
        root.put("tie_word_embeddings", c.tieWordEmbeddings());
        root.put("attention_bias", c.qkvBias());
        root.put("hidden_act", "silu");
        root.put("torch_dtype", c.torchDtype());
        root.put("bos_token_id", bosTokenId);
        root.put("eos_token_id", eosTokenId);
        root.put("use_cache", true);
        if (c.fp8() != null) {
            ObjectNode q = root.putObject("quantization_config");
            q.put("quant_method", "fp8");
            q.put("fmt", "e4m3");
            q.put("activation_scheme", "dynamic");
            q.putArray("weight_block_size").add(c.fp8().blockRows()).add(c.fp8().blockCols());
        }
        if (c.moe() != null && c.architecture() == Architecture.DEEPSEEK_V3) {
            writeDeepseekMoe(root, c);
        } else if (c.moe() != null) {
            MoeConfig m = c.moe();
            root.put("num_experts", m.numExperts());
            root.put("num_experts_per_tok", m.topK());
            root.put("moe_intermediate_size", m.expertIntermediateSize());
            root.put("norm_topk_prob", m.normTopkProb());
            root.put("decoder_sparse_step", m.decoderSparseStep());
            ArrayNode dense = root.putArray("mlp_only_layers");
            m.mlpOnlyLayers().forEach(dense::add);
            root.put("output_router_logits", false);
            root.put("router_aux_loss_coef", 0.001);
        }
        if (c.architecture() == Architecture.MISTRAL || c.architecture() == Architecture.QWEN2
                || c.architecture() == Architecture.QWEN3 || c.architecture() == Architecture.QWEN3_MOE) {
            root.putNull("sliding_window");
            root.put("use_sliding_window", false);
        }
        try {
            return MAPPER.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void writeDeepseekMoe(ObjectNode root, ModelConfig c) {
        MoeConfig m = c.moe();
        int firstDense = m.mlpOnlyLayers().size();
        for (int l = 0; l < c.numLayers(); l++) {
            if (m.isSparse(l) == (l < firstDense)) {
                throw new IllegalArgumentException("DeepSeek-V3 writes its dense layers as first_k_dense_replace: they must "
                        + "be the first layers, got dense layers " + m.mlpOnlyLayers());
            }
        }
        root.put("n_routed_experts", m.numExperts());
        root.put("num_experts_per_tok", m.topK());
        root.put("moe_intermediate_size", m.expertIntermediateSize());
        root.put("n_shared_experts", m.sharedExperts());
        root.put("routed_scaling_factor", m.routing().scalingFactor());
        root.put("n_group", m.routing().groups());
        root.put("topk_group", m.routing().topkGroups());
        root.put("topk_method", "noaux_tc");
        root.put("scoring_func", m.routing().scoring().jsonName());
        root.put("norm_topk_prob", m.normTopkProb());
        root.put("first_k_dense_replace", firstDense);
        root.put("moe_layer_freq", 1);
    }

    /** Typed access to one JSON object's fields with errors that say which field and what was found. */
    private record Fields(JsonNode node, String source) {
        int requiredInt(String name) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                throw new ModelConfigException(source + ": missing required field '" + name + "' (a positive integer)");
            }
            return toInt(name, v);
        }

        int optionalInt(String name, int fallback) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? fallback : toInt(name, v);
        }

        private int toInt(String name, JsonNode v) {
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ModelConfigException(source + ": field '" + name + "' must be an integer, got " + v);
            }
            return v.intValue();
        }

        java.util.List<Integer> optionalIntList(String name) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                return java.util.List.of();
            }
            if (!v.isArray()) {
                throw new ModelConfigException(source + ": field '" + name + "' must be a list of integers, got " + v);
            }
            java.util.List<Integer> out = new java.util.ArrayList<>();
            for (JsonNode e : v) {
                out.add(toInt(name, e));
            }
            return out;
        }

        double requiredDouble(String name) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                throw new ModelConfigException(source + ": missing required field '" + name + "' (a number)");
            }
            return toDouble(name, v);
        }

        double optionalDouble(String name, double fallback) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? fallback : toDouble(name, v);
        }

        private double toDouble(String name, JsonNode v) {
            if (!v.isNumber()) {
                throw new ModelConfigException(source + ": field '" + name + "' must be a number, got " + v);
            }
            return v.doubleValue();
        }

        String optionalText(String name, String fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw new ModelConfigException(source + ": field '" + name + "' must be a string, got " + v);
            }
            return v.asText();
        }

        boolean optionalBoolean(String name, boolean fallback) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw new ModelConfigException(source + ": field '" + name + "' must be true or false, got " + v);
            }
            return v.booleanValue();
        }
    }
}
