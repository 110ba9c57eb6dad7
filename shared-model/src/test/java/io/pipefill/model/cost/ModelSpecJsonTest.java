package io.pipefill.model.cost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The presets against their published parameter counts, and the parser's errors. */
class ModelSpecJsonTest {
    private static void assertBillions(double expected, long params, String what) {
        assertEquals(expected, params / 1e9, expected * 0.01, what);
    }

    @Test
    void denseModels() {
        ModelSpec l70 = ModelCatalog.preset("llama-3.1-70b");
        assertEquals(8192, l70.hiddenSize());
        assertEquals(80, l70.numLayers());
        assertEquals(new AttentionSpec.Gqa(64, 8, 128), l70.attention());
        assertEquals(28672, l70.intermediateSize());
        assertEquals(128256, l70.vocabSize());
        assertFalse(l70.hasMoe());
        assertBillions(70.6, l70.totalParams(), "Llama-3.1-70B");
        assertBillions(8.03, ModelCatalog.preset("llama-3.1-8b").totalParams(), "Llama-3.1-8B");
        ModelSpec l405 = ModelCatalog.preset("llama-3.1-405b");
        assertEquals(126, l405.numLayers());
        assertBillions(405.8, l405.totalParams(), "Llama-3.1-405B");
        ModelSpec q32 = ModelCatalog.preset("qwen3-32b");
        assertEquals(new AttentionSpec.Gqa(64, 8, 128), q32.attention());
        assertBillions(32.8, q32.totalParams(), "Qwen3-32B");
        assertEquals(2L * 8 * 128, l70.kvElementsPerTokenPerLayer());
    }

    @Test
    void qwenMoe() {
        ModelSpec q = ModelCatalog.preset("qwen3-235b-a22b");
        assertEquals(94, q.moeLayerCount(), "decoder_sparse_step 1 and no mlp_only_layers: every layer is MoE");
        assertEquals(new MoeSpec(128, 8, 1536, 0), q.moe());
        assertEquals(new AttentionSpec.Gqa(64, 4, 128), q.attention());
        assertBillions(235, q.totalParams(), "Qwen3-235B-A22B total");
        assertBillions(22.2, q.activeParams(), "Qwen3-235B-A22B active");
        assertEquals(2, q.weightBytes());
        ModelSpec fp8 = ModelCatalog.preset("qwen3-235b-a22b-fp8");
        assertEquals(1, fp8.weightBytes());
        assertEquals(2, fp8.embedBytes(), "embedding and lm_head stay BF16");
    }

    @Test
    void deepSeekMlaMoeFp8() {
        ModelSpec d = ModelCatalog.preset("deepseek-v3.1");
        assertEquals(new AttentionSpec.Mla(128, 1536, 512, 128, 64, 128), d.attention());
        assertEquals(new MoeSpec(256, 8, 2048, 2048), d.moe());
        assertEquals(58, d.moeLayerCount(), "first_k_dense_replace 3 of 61 layers are dense");
        assertFalse(d.isMoe(2));
        assertTrue(d.isMoe(3));
        assertEquals(1, d.weightBytes());
        assertEquals(512 + 64, d.kvElementsPerTokenPerLayer(), "MLA caches the latent and the RoPE key");
        assertBillions(671, d.totalParams(), "DeepSeek-V3 total (without the MTP layer)");
        assertBillions(37.5, d.activeParams(), "DeepSeek-V3 active");
    }

    @Test
    void qwenSparseStepAndMlpOnlyLayers() {
        String json = """
                {"architectures": ["Qwen3MoeForCausalLM"], "hidden_size": 64, "num_hidden_layers": 6,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
                 "intermediate_size": 128, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                 "decoder_sparse_step": 2, "mlp_only_layers": [3]}""";
        ModelSpec m = ModelSpecJson.parse(json, "t", "test");
        // MoE where (i + 1) % 2 == 0 and i not in mlp_only_layers: layers 1 and 5
        assertEquals(2, m.moeLayerCount());
        assertTrue(m.isMoe(1) && m.isMoe(5) && !m.isMoe(3) && !m.isMoe(0));
    }

    @Test
    void errorsNameTheFieldAndWhatIsAllowed() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelSpecJson.parse(
                "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 10}", "x", "cfg.json"));
        assertTrue(e.getMessage().contains("cfg.json") && e.getMessage().contains("num_hidden_layers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelSpecJson.parse(
                "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 10,"
                        + " \"intermediate_size\": 8, \"quantization_config\": {\"quant_method\": \"awq\"}}", "x", "cfg.json"));
        assertTrue(e.getMessage().contains("'awq'") && e.getMessage().contains("supported: fp8"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelCatalog.resolve("llama-9000"));
        assertTrue(e.getMessage().contains("not a preset") && e.getMessage().contains("deepseek-v3.1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelSpecJson.parse(
                "{\"hidden_size\": -64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 10}", "x", "c"));
        assertTrue(e.getMessage().contains("hidden_size"), e.getMessage());
    }
}
