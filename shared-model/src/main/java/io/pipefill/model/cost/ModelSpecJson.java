package io.pipefill.model.cost;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Reads the cost-relevant shape of a Hugging Face config.json, for any decoder-only model built from GQA or MLA
 * attention and dense or MoE SwiGLU MLPs. The field names decide, not the class name:
 * <ul>
 *   <li>MLA when {@code kv_lora_rank} is present (DeepSeek-V2/V3);</li>
 *   <li>MoE from {@code num_experts} (Qwen-MoE: {@code decoder_sparse_step}, {@code mlp_only_layers},
 *       {@code shared_expert_intermediate_size}) or {@code n_routed_experts} (DeepSeek: {@code n_shared_experts},
 *       {@code first_k_dense_replace}, {@code moe_layer_freq});</li>
 *   <li>FP8 weights when {@code quantization_config.quant_method} is {@code fp8}.</li>
 * </ul>
 * Errors name the source and the field.
 */
public final class ModelSpecJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private ModelSpecJson() {
    }

    public static ModelSpec parse(String text, String name, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(source + ": expected a JSON object at the top level");
        }
        Reader f = new Reader(root, source);
        String arch = root.path("architectures").path(0).asText(root.path("model_type").asText("unknown"));
        int hidden = f.required("hidden_size");
        int layers = f.required("num_hidden_layers");
        int heads = f.required("num_attention_heads");
        int vocab = f.required("vocab_size");
        AttentionSpec attention;
        if (root.hasNonNull("kv_lora_rank")) {
            attention = new AttentionSpec.Mla(heads, f.optional("q_lora_rank", 0), f.required("kv_lora_rank"),
                    f.required("qk_nope_head_dim"), f.required("qk_rope_head_dim"), f.required("v_head_dim"));
        } else {
            int kv = f.optional("num_key_value_heads", heads);
            if (hidden % heads != 0 && !root.hasNonNull("head_dim")) {
                throw new IllegalArgumentException(source + ": hidden_size (" + hidden + ") is not divisible by "
                        + "num_attention_heads (" + heads + ") and no head_dim is given");
            }
            attention = new AttentionSpec.Gqa(heads, kv, f.optional("head_dim", hidden / heads));
        }
        boolean[] moeLayer = new boolean[layers];
        MoeSpec moe = null;
        if (root.hasNonNull("n_routed_experts")) {
            int experts = f.required("n_routed_experts");
            int inter = f.required("moe_intermediate_size");
            moe = new MoeSpec(experts, f.required("num_experts_per_tok"), inter, f.optional("n_shared_experts", 0) * inter);
            int firstDense = f.optional("first_k_dense_replace", 0);
            int freq = f.optional("moe_layer_freq", 1);
            if (freq < 1) {
                throw new IllegalArgumentException(source + ": moe_layer_freq must be at least 1, got " + freq);
            }
            for (int i = 0; i < layers; i++) {
                moeLayer[i] = i >= firstDense && i % freq == 0;
            }
        } else if (root.hasNonNull("num_experts") && f.required("num_experts") > 0) {
            moe = new MoeSpec(f.required("num_experts"), f.required("num_experts_per_tok"),
                    f.required("moe_intermediate_size"), f.optional("shared_expert_intermediate_size", 0));
            int step = f.optional("decoder_sparse_step", 1);
            if (step < 1) {
                throw new IllegalArgumentException(source + ": decoder_sparse_step must be at least 1, got " + step);
            }
            Set<Integer> mlpOnly = new HashSet<>();
            for (JsonNode n : root.path("mlp_only_layers")) {
                mlpOnly.add(n.asInt());
            }
            for (int i = 0; i < layers; i++) {
                moeLayer[i] = !mlpOnly.contains(i) && (i + 1) % step == 0;
            }
        }
        int intermediate = f.optional("intermediate_size", 0);
        int weightBytes = 2;
        JsonNode q = root.get("quantization_config");
        if (q != null && !q.isNull()) {
            String method = q.path("quant_method").asText("").toLowerCase(Locale.ROOT);
            if (!method.equals("fp8")) {
                throw new IllegalArgumentException(source + ": quantization_config.quant_method '" + method
                        + "' is not supported by the cost model; supported: fp8 (or no quantization_config for BF16)");
            }
            weightBytes = 1;
        }
        try {
            return new ModelSpec(name, arch, hidden, layers, vocab, f.optional("max_position_embeddings", 4096), attention,
                    intermediate, moe, moeLayer, weightBytes, 2, root.path("tie_word_embeddings").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private record Reader(JsonNode root, String source) {
        int required(String field) {
            JsonNode n = root.get(field);
            if (n == null || n.isNull()) {
                throw new IllegalArgumentException(source + ": missing required field '" + field + "'");
            }
            return positiveInt(field, n);
        }

        int optional(String field, int fallback) {
            JsonNode n = root.get(field);
            return n == null || n.isNull() ? fallback : positiveInt(field, n);
        }

        private int positiveInt(String field, JsonNode n) {
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
                throw new IllegalArgumentException(source + ": field '" + field + "' must be a whole number ≥ 0, got " + n);
            }
            return n.asInt();
        }
    }
}
