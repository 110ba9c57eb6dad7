package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Qwen3-MoE config.json: the published 235B-A22B config, the layer rule, round trip and clear errors. */
class MoeConfigJsonTest {
    /** Qwen3-235B-A22B's public config.json (the fields pipefill reads, plus some it ignores). */
    static final String QWEN3_235B = """
            {"architectures": ["Qwen3MoeForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128,
             "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 12288,
             "max_position_embeddings": 40960, "max_window_layers": 94, "mlp_only_layers": [],
             "model_type": "qwen3_moe", "moe_intermediate_size": 1536, "norm_topk_prob": true,
             "num_attention_heads": 64, "num_experts": 128, "num_experts_per_tok": 8, "num_hidden_layers": 94,
             "num_key_value_heads": 4, "output_router_logits": false, "rms_norm_eps": 1e-06, "rope_scaling": null,
             "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": null,
             "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
             "use_sliding_window": false, "vocab_size": 151936}
            """;

    @Test
    void parsesQwen3_235B() {
        ModelConfig c = ModelConfigJson.parse(QWEN3_235B, "config.json");
        assertEquals(Architecture.QWEN3_MOE, c.architecture());
        assertTrue(c.qkNorm());
        assertEquals(new MoeConfig(128, 8, 1536, true, 1, List.of()), c.moe());
        assertTrue(c.isSparseLayer(0) && c.isSparseLayer(93));
        // 235B parameters in all, as the name says
        assertEquals(235e9, c.parameterCount(), 1e9);
        // and about 22B active per token: the layers' active FLOPs for one token are 2 per active parameter
        double activeLayers = c.layerFlops(0, 1) / 2 - 4.0 * c.qDim() * c.numLayers() / 2;
        assertEquals(22e9 - 2 * 151936L * 4096, activeLayers, 1e9);
    }

    @Test
    void sparseLayersFollowTheStepAndTheDenseList() {
        MoeConfig m = new MoeConfig(8, 2, 64, false, 2, List.of(3));
        assertFalse(m.isSparse(0));
        assertTrue(m.isSparse(1));
        assertFalse(m.isSparse(2));
        assertFalse(m.isSparse(3), "mlp_only_layers wins over the step");
        assertTrue(m.isSparse(5));
    }

    @Test
    void writesWhatItReads() {
        ModelConfig tiny = ModelPreset.TINY.config(Architecture.QWEN3_MOE);
        ModelConfig back = ModelConfigJson.parse(ModelConfigJson.write(tiny, 256, 257), "written");
        assertEquals(tiny, back);
        assertEquals(List.of(1), back.moe().mlpOnlyLayers());
        ModelConfig small = ModelPreset.SMALL.config(Architecture.QWEN3_MOE);
        assertTrue(small.parameterCount() < 300e6, "small fits a laptop: " + small.parameterCount());
        assertTrue(small.moe().numExperts() >= 16 && small.moe().topK() >= 4);
    }

    @Test
    void badFieldsAreNamed() {
        assertError(QWEN3_235B.replace("\"num_experts\": 128, ", ""), "missing required field 'num_experts'");
        assertError(QWEN3_235B.replace("\"num_experts_per_tok\": 8", "\"num_experts_per_tok\": 129"),
                "num_experts_per_tok must be in [1, num_experts = 128], got 129");
        assertError(QWEN3_235B.replace("\"mlp_only_layers\": []", "\"mlp_only_layers\": [94]"),
                "mlp_only_layers entry 94 is not a layer in [0, 94)");
        assertError(QWEN3_235B.replace("\"mlp_only_layers\": []", "\"mlp_only_layers\": 3"),
                "field 'mlp_only_layers' must be a list of integers");
        assertError(QWEN3_235B.replace("\"decoder_sparse_step\": 1", "\"decoder_sparse_step\": 0"),
                "decoder_sparse_step must be a positive integer");
    }

    @Test
    void tensorParallelismMustSplitEachExpertEvenly() {
        ModelConfig tiny = ModelPreset.TINY.config(Architecture.QWEN3_MOE); // moe_intermediate_size 64
        Topology.of(tiny, 1, 2, null);
        ModelConfig odd = ModelConfigJson.parse(ModelConfigJson.write(tiny, 256, 257)
                .replace("\"moe_intermediate_size\" : 64", "\"moe_intermediate_size\" : 65"), "x");
        var e = assertThrows(IllegalArgumentException.class, () -> Topology.of(odd, 1, 2, null));
        assertEquals("--tp 2 must divide moe_intermediate_size (65)", e.getMessage());
    }

    private static void assertError(String json, String expected) {
        var e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.parse(json, "dir/config.json"));
        assertTrue(e.getMessage().startsWith("dir/config.json: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
