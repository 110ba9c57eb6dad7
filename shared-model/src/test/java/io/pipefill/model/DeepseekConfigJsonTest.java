package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** DeepSeek-V3 config.json: the published V3.1 config, its sizes, round trip and clear errors naming the field. */
class DeepseekConfigJsonTest {
    /** DeepSeek-V3.1's public config.json (the fields pipefill reads, plus some it ignores). */
    static final String DEEPSEEK_V31 = """
            {"architectures": ["DeepseekV3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 0, "eos_token_id": 1, "ep_size": 1, "first_k_dense_replace": 3, "hidden_act": "silu",
             "hidden_size": 7168, "initializer_range": 0.02, "intermediate_size": 18432, "kv_lora_rank": 512,
             "max_position_embeddings": 163840, "model_type": "deepseek_v3", "moe_intermediate_size": 2048,
             "moe_layer_freq": 1, "n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1,
             "norm_topk_prob": true, "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
             "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
             "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
             "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                     "weight_block_size": [128, 128]},
             "rms_norm_eps": 1e-06,
             "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                              "original_max_position_embeddings": 4096, "type": "yarn"},
             "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
             "tie_word_embeddings": false, "topk_group": 4, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
             "use_cache": true, "v_head_dim": 128, "vocab_size": 129280}
            """;

    @Test
    void parsesDeepseekV31() {
        ModelConfig c = ModelConfigJson.parse(DEEPSEEK_V31, "config.json");
        assertEquals(Architecture.DEEPSEEK_V3, c.architecture());
        assertEquals(new MlaConfig(1536, 512, 128, 64, 128, true), c.mla());
        assertEquals(64, c.headDim(), "head_dim is the rotary width");
        MoeConfig m = c.moe();
        assertEquals(new MoeConfig.Routing(MoeConfig.Scoring.SIGMOID, 8, 4, true, 2.5), m.routing());
        assertEquals(List.of(0, 1, 2), m.mlpOnlyLayers());
        assertFalse(c.isSparseLayer(2));
        assertTrue(c.isSparseLayer(3) && c.isSparseLayer(60));
        assertEquals(2048, m.sharedIntermediateSize());
        assertEquals(RopeScaling.yarn(40, 4096, 32, 1, 1.0, 1.0), c.ropeScaling());
        assertEquals(new BlockFp8(128, 128), c.fp8());
        // 671B parameters in the 61 layers and embeddings (the published 685B adds the 14B multi-token head)
        assertEquals(671e9, c.parameterCount(), 4e9);
        // 512 + 64 floats per position and layer: 70 KB per token in BF16 over 61 layers, as DeepSeek reports
        assertEquals(576, c.kvFloatsPerPosition(8));
    }

    @Test
    void writesWhatItReads() {
        for (ModelPreset p : new ModelPreset[] {ModelPreset.TINY, ModelPreset.SMALL}) {
            ModelConfig c = p.config(Architecture.DEEPSEEK_V3);
            assertEquals(c, ModelConfigJson.parse(ModelConfigJson.write(c, 256, 257), "written"));
        }
        ModelConfig small = ModelPreset.SMALL.config(Architecture.DEEPSEEK_V3);
        assertTrue(small.parameterCount() < 300e6, "small fits this machine: " + small.parameterCount());
        MoeConfig m = small.moe();
        assertTrue(m.numExperts() >= 16 && m.topK() >= 4 && m.routing().groups() >= 4 && !m.mlpOnlyLayers().isEmpty());
        ModelConfig plainQ = ModelConfigJson.parse(DEEPSEEK_V31.replace("\"q_lora_rank\": 1536", "\"q_lora_rank\": null"), "x");
        assertFalse(plainQ.mla().hasQLora());
        // absent: transformers' default; n_shared_experts null: none, as DeepSeek's code reads it
        assertEquals(1536, ModelConfigJson.parse(DEEPSEEK_V31.replace("\"q_lora_rank\": 1536,", ""), "x").mla().qLoraRank());
        assertEquals(0, ModelConfigJson.parse(DEEPSEEK_V31.replace("\"n_shared_experts\": 1", "\"n_shared_experts\": null"),
                "x").moe().sharedExperts());
        assertTrue(ModelConfigJson.write(plainQ, 0, 1).contains("\"q_lora_rank\" : null"));
    }

    @Test
    void badFieldsAreNamed() {
        assertError(DEEPSEEK_V31.replace("\"n_routed_experts\": 256", "\"n_routed_experts\": 252"),
                "n_routed_experts (252) must be divisible by n_group (8)");
        assertError(DEEPSEEK_V31.replace("\"topk_method\": \"noaux_tc\"", "\"topk_method\": \"group_limited_greedy\""),
                "unsupported topk_method 'group_limited_greedy'; supported: noaux_tc");
        assertError(DEEPSEEK_V31.replace("\"scoring_func\": \"sigmoid\"", "\"scoring_func\": \"softmax\""),
                "unsupported scoring_func 'softmax'; supported: sigmoid");
        assertError(DEEPSEEK_V31.replace("\"topk_group\": 4", "\"topk_group\": 9"), "topk_group must be in [1, n_group = 8], got 9");
        assertError(DEEPSEEK_V31.replace("\"kv_lora_rank\": 512,", ""), "missing required field 'kv_lora_rank'");
        assertError(DEEPSEEK_V31.replace("\"num_key_value_heads\": 128", "\"num_key_value_heads\": 8"),
                "num_key_value_heads must equal num_attention_heads (128), got 8");
        assertError(DEEPSEEK_V31.replace("\"attention_bias\": false", "\"attention_bias\": true"),
                "attention_bias true is not supported with latent attention");
        assertError(DEEPSEEK_V31.replace("\"type\": \"yarn\"", "\"type\": \"dynamic\""),
                "unsupported rope_scaling type 'dynamic'");
        assertError(DEEPSEEK_V31.replace("\"qk_rope_head_dim\": 64", "\"qk_rope_head_dim\": 63"),
                "qk_rope_head_dim must be even");
        assertError(DEEPSEEK_V31.replace("\"q_lora_rank\": 1536", "\"q_lora_rank\": 0"),
                "q_lora_rank must be a positive integer or null (one q_proj), got 0");
        assertError(DEEPSEEK_V31.replace("\"type\": \"yarn\"", "\"type\": \"yarn\", \"truncate\": false"),
                "rope_scaling.truncate false is not supported");
        assertError(DEEPSEEK_V31.replace("\"num_experts_per_tok\": 8", "\"num_experts_per_tok\": 129"),
                "num_experts_per_tok (129) is more than the 4 kept groups (topk_group) of 32 experts hold");
    }

    @Test
    void yarnIsRefusedWithoutLatentAttention() {
        String llama = ModelConfigJson.write(ModelPreset.TINY.config(Architecture.LLAMA), 256, 257)
                .replace("\"rope_type\" : \"llama3\"", "\"rope_type\" : \"yarn\", \"beta_fast\": 32, \"beta_slow\": 1");
        assertError(llama, "rope_scaling type yarn is supported with latent attention (DeepSeek-V3) only");
    }

    private static void assertError(String json, String expected) {
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.parse(json, "dir/config.json"));
        assertTrue(e.getMessage().startsWith("dir/config.json: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
