package io.pipefill.worker.engine;

import io.pipefill.worker.launch.PrefillResult;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.worker.TestModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.StreamSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CPU engine against golden logits of an independent implementation (tools/reference, float64 PyTorch)
 * for each architecture: max |Δ| / max |logit| ≤ 1e-3 in float32, identical greedy tokens.
 */
class GoldenParityTest {
    static final double TOLERANCE = 1e-3;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen3-moe-fp8",
            "tiny-deepseek-v3", "tiny-deepseek-v3-fp8"})
    void matchesIndependentReference(String name) throws Exception {
        JsonNode golden = new ObjectMapper().readTree(TestModels.golden(name).toFile());
        assertTrue(golden.get("produced_by").asText().contains("independent"), "golden records its producer");
        int[] prompt = ints(golden.get("prompt_token_ids"));
        int[] greedy = ints(golden.get("greedy_tokens"));
        double[] last = doubles(golden.get("last_logits"));
        Path model = TestModels.committed(name);

        for (int chunk : new int[] {prompt.length, 64, 100}) {
            PrefillResult r = TestModels.prefill(model, prompt, chunk, greedy.length, 2);
            double err = TestModels.relativeError(r.lastLogits(), last);
            assertTrue(err <= TOLERANCE, name + " chunk " + chunk + ": relative error " + err);
            assertArrayEquals(greedy, r.generated(), name + " chunk " + chunk + " greedy tokens");
        }
        // earlier positions: a prompt cut after position p has p's logits last
        for (var it = golden.get("logits_at").fields(); it.hasNext(); ) {
            var e = it.next();
            int pos = Integer.parseInt(e.getKey());
            PrefillResult r = TestModels.prefill(model, Arrays.copyOf(prompt, pos + 1), 32, 0, 1);
            double err = TestModels.relativeError(r.lastLogits(), doubles(e.getValue()));
            assertTrue(err <= TOLERANCE, name + " position " + pos + ": relative error " + err);
        }
    }

    static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    static double[] doubles(JsonNode array) {
        double[] d = StreamSupport.stream(array.spliterator(), false).mapToDouble(JsonNode::asDouble).toArray();
        assertEquals(array.size(), d.length);
        return d;
    }
}
