package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigJsonTest {
    /** Llama-3.1-8B's public config.json. */
    static final String LLAMA_31_8B = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
             "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
             "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
             "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256}
            """;

    @Test
    void parsesLlama31() {
        ModelConfig c = ModelConfigJson.parse(LLAMA_31_8B, "config.json");
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(4096, c.hiddenSize());
        assertEquals(128, c.headDim());
        assertEquals(8, c.numKvHeads());
        assertEquals(4, c.groupSize());
        assertEquals(8192, c.ropeScaling().originalMaxPositionEmbeddings());
        assertEquals(500000.0, c.ropeTheta());
        assertFalse(c.qkvBias());
        // 8.03B parameters, as published
        assertEquals(8.03e9, c.parameterCount(), 0.01e9);
    }

    @Test
    void appliesDefaultsAndArchitectureTraits() {
        ModelConfig c = ModelConfigJson.parse("""
                {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300}""", "x");
        assertEquals(4, c.numKvHeads());
        assertEquals(16, c.headDim());
        assertEquals(10000.0, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertTrue(c.qkvBias(), "Qwen2 always has q/k/v biases");
        assertFalse(c.oBias());
        ModelConfig q3 = ModelConfigJson.parse("""
                {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "head_dim": 32,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
                 "tie_word_embeddings": true}""", "x");
        assertTrue(q3.qkNorm());
        assertEquals(128, q3.qDim());
        assertTrue(q3.tieWordEmbeddings());
    }

    @Test
    void roundTripsThroughWrite() {
        for (Architecture a : Architecture.values()) {
            ModelConfig c = ModelPreset.TINY.config(a);
            assertEquals(c, ModelConfigJson.parse(ModelConfigJson.write(c, 256, 257), "x"), a.name());
        }
    }

    @Test
    void readsFileAndNamesMissingOne(@TempDir Path dir) throws Exception {
        var e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.read(dir.resolve("config.json")));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("not found"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), LLAMA_31_8B);
        assertEquals(32, ModelConfigJson.read(dir.resolve("config.json")).numLayers());
    }

    private static String error(String json) {
        return assertThrows(ModelConfigException.class, () -> ModelConfigJson.parse(json, "m/config.json")).getMessage();
    }

    private static String llamaWith(String from, String to) {
        String changed = LLAMA_31_8B.replace(from, to);
        assertFalse(changed.equals(LLAMA_31_8B), "test replacement did not apply: " + from);
        return changed;
    }

    @Test
    void rejectsMalformedJson() {
        String m = error("{\"architectures\": [\"LlamaForCausalLM\"], ");
        assertTrue(m.startsWith("m/config.json: malformed JSON"), m);
        assertTrue(error("[1, 2]").contains("expected a JSON object"));
    }

    @Test
    void rejectsUnsupportedArchitecture() {
        String m = error(llamaWith("LlamaForCausalLM", "GPT2LMHeadModel"));
        assertTrue(m.contains("unsupported architecture 'GPT2LMHeadModel'") && m.contains("Qwen3ForCausalLM"), m);
        assertTrue(error(llamaWith("[\"LlamaForCausalLM\"]", "[]")).contains("'architectures'"));
    }

    @Test
    void namesMissingAndMistypedFields() {
        assertTrue(error(llamaWith("\"hidden_size\": 4096,", "")).contains("missing required field 'hidden_size'"));
        assertTrue(error(llamaWith("\"num_hidden_layers\": 32", "\"num_hidden_layers\": \"32\""))
                .contains("field 'num_hidden_layers' must be an integer"));
        assertTrue(error(llamaWith("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 0"))
                .contains("num_hidden_layers must be a positive integer, got 0"));
        assertTrue(error(llamaWith("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": 0"))
                .contains("'tie_word_embeddings' must be true or false"));
        assertTrue(error(llamaWith("\"rope_theta\": 500000.0", "\"rope_theta\": \"big\""))
                .contains("'rope_theta' must be a number"));
    }

    @Test
    void rejectsInconsistentShapes() {
        assertTrue(error(llamaWith("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"))
                .contains("must be a multiple of num_key_value_heads (5)"));
        assertTrue(error(llamaWith("\"num_attention_heads\": 32", "\"num_attention_heads\": 30"))
                .contains("not divisible by num_attention_heads"));
    }

    @Test
    void rejectsUnknownRopeScaling() {
        assertTrue(error(llamaWith("\"rope_type\": \"llama3\"", "\"rope_type\": \"dynamic\""))
                .contains("unsupported rope_scaling type 'dynamic'"));
        assertTrue(error(llamaWith("\"factor\": 8.0,", "")).contains("missing required field 'factor'"));
    }
}
