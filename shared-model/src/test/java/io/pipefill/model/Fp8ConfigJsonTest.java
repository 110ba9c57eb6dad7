package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** quantization_config: DeepSeek-V3's / Qwen3-FP8's block-scaled FP8 is read; anything else is named and refused. */
class Fp8ConfigJsonTest {
    static final String BASE = """
            {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "head_dim": 32,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300 %s}""";

    @Test
    void readsTheDeepSeekBlocks() {
        ModelConfig c = ModelConfigJson.parse(BASE.formatted(q(", 'quantization_config': {'activation_scheme': 'dynamic', 'fmt': 'e4m3', 'quant_method': 'fp8', 'weight_block_size': [128, 128]}")), "x");
        assertEquals(BlockFp8.DEEPSEEK, c.fp8());
        assertArrayEquals(new long[] {2, 1}, c.fp8().scaleShape(129, 128));
        assertEquals(c, ModelConfigJson.parse(ModelConfigJson.write(c, 1, 2), "written"));
        assertNull(ModelConfigJson.parse(BASE.formatted(""), "x").fp8());
    }

    @Test
    void refusesOtherSchemesByName() {
        assertError(q(", 'quantization_config': {'quant_method': 'gptq', 'bits': 4}"),
                "unsupported quantization_config.quant_method 'gptq'; supported: fp8");
        assertError(q(", 'quantization_config': {'quant_method': 'fp8', 'fmt': 'e5m2', 'weight_block_size': [128, 128]}"),
                "unsupported quantization_config.fmt 'e5m2'; supported: e4m3");
        assertError(q(", 'quantization_config': {'quant_method': 'fp8'}"),
                "quantization_config.weight_block_size must be a list of two integers");
        assertError(q(", 'quantization_config': {'quant_method': 'fp8', 'weight_block_size': [128, 0]}"),
                "weight_block_size must be two positive integers, got [128, 0]");
    }

    /** JSON written with single quotes, for legibility. */
    private static String q(String json) {
        return json.replace('\'', '"');
    }

    private static void assertError(String extra, String expected) {
        var e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.parse(BASE.formatted(extra), "m/config.json"));
        assertTrue(e.getMessage().startsWith("m/config.json: ") && e.getMessage().contains(expected), e.getMessage());
    }
}
