package io.pipefill.worker.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.StageShard;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one decoder layer: which steps each architecture runs, in which order, and the shared checks. */
class DecoderLayerTest {

    /** The steps {@link DecoderLayer#run} asks of a backend for layer 3, as "step" strings. */
    private static List<String> steps(ModelConfig config) {
        List<String> calls = new ArrayList<>();
        LayerOps ops = (LayerOps) Proxy.newProxyInstance(LayerOps.class.getClassLoader(), new Class<?>[] {LayerOps.class},
                (proxy, method, args) -> {
                    assertEquals(3, args[0], method.getName() + "'s layer");
                    calls.add(method.getName());
                    return null;
                });
        new DecoderLayer(config).run(ops, 3);
        return calls;
    }

    @Test
    void llamaAndMistralRunThePlainBlock() {
        List<String> plain = List.of("attentionNorm", "qkvProjection", "rope", "appendKv", "attention", "outputProjection",
                "mlpNorm", "mlp");
        assertEquals(plain, steps(ModelPreset.TINY.config(Architecture.LLAMA)));
        assertEquals(plain, steps(ModelPreset.TINY.config(Architecture.MISTRAL)));
    }

    @Test
    void qwen2AddsTheQkvBiasBeforeRopeButNoOutputBias() {
        assertEquals(List.of("attentionNorm", "qkvProjection", "addQkvBias", "rope", "appendKv", "attention",
                "outputProjection", "mlpNorm", "mlp"), steps(ModelPreset.TINY.config(Architecture.QWEN2)));
    }

    @Test
    void qwen3NormsQAndKHeadsBeforeRope() {
        assertEquals(List.of("attentionNorm", "qkvProjection", "qkNorm", "rope", "appendKv", "attention",
                "outputProjection", "mlpNorm", "mlp"), steps(ModelPreset.TINY.config(Architecture.QWEN3)));
    }

    @Test
    void qwen3MoeRunsTheSparseMlpExceptOnItsDenseLayers() {
        ModelConfig c = ModelPreset.TINY.config(Architecture.QWEN3_MOE); // mlp_only_layers [1]
        List<String> sparse = List.of("attentionNorm", "qkvProjection", "qkNorm", "rope", "appendKv", "attention",
                "outputProjection", "mlpNorm", "moe");
        assertEquals(sparse, steps(c));
        // a stage starting at layer 1: its local layer 0 is the model's dense layer 1, local 1 is sparse layer 2
        assertEquals("mlp", last(new DecoderLayer(c, 1), 0));
        assertEquals("moe", last(new DecoderLayer(c, 1), 1));
        assertEquals("moe", last(new DecoderLayer(c, 0), 0));
    }

    private static String last(DecoderLayer decoder, int layer) {
        List<String> calls = new ArrayList<>();
        LayerOps ops = (LayerOps) Proxy.newProxyInstance(LayerOps.class.getClassLoader(), new Class<?>[] {LayerOps.class},
                (proxy, method, args) -> calls.add(method.getName()));
        decoder.run(ops, layer);
        return calls.get(calls.size() - 1);
    }

    @Test
    void attentionBiasPutsBiasesOnQkvAndOnOAfterTheProjection() {
        ModelConfig t = ModelPreset.TINY.config(Architecture.LLAMA);
        ModelConfig biased = new ModelConfig(t.architecture(), t.vocabSize(), t.hiddenSize(), t.intermediateSize(),
                t.numLayers(), t.numHeads(), t.numKvHeads(), t.headDim(), t.maxPositionEmbeddings(), t.ropeTheta(),
                t.ropeScaling(), t.rmsNormEps(), t.tieWordEmbeddings(), true, t.torchDtype());
        assertEquals(List.of("attentionNorm", "qkvProjection", "addQkvBias", "rope", "appendKv", "attention",
                "outputProjection", "addOutputBias", "mlpNorm", "mlp"), steps(biased));
    }

    @Test
    void sharedChecksNameWhatIsWrong() {
        var token = assertThrows(IllegalArgumentException.class,
                () -> StageChecks.tokensInVocabulary(new int[] {1, 2, 600}, 1, 2, 512));
        assertEquals("token id 600 at prompt position 2 is outside the vocabulary [0, 512)", token.getMessage());
        StageChecks.tokensInVocabulary(new int[] {0, 511, -1}, 0, 2, 512);
        var negative = assertThrows(IllegalStateException.class,
                () -> StageChecks.tokensInVocabulary(new int[] {-1}, 512, IllegalStateException::new));
        assertTrue(negative.getMessage().contains("token id -1 at prompt position 0"), negative.getMessage());

        assertTrue(assertThrows(IllegalStateException.class, () -> StageChecks.chunkInOrder(4, 8, 0, 16)).getMessage()
                .contains("chunks must arrive in order"));
        assertEquals("positions up to 17 exceed the KV cache capacity 16",
                assertThrows(IllegalStateException.class, () -> StageChecks.chunkInOrder(8, 9, 8, 16)).getMessage());
        StageChecks.chunkInOrder(8, 8, 8, 16);

        ModelConfig c = ModelPreset.TINY.config(Architecture.LLAMA);
        StageShard whole = StageShard.whole(c);
        assertTrue(assertThrows(IllegalStateException.class, () -> StageChecks.holdsEmbedding(false, whole)).getMessage()
                .contains("holds no embedding"));
        assertTrue(assertThrows(IllegalStateException.class, () -> StageChecks.holdsHead(false, whole)).getMessage()
                .contains("holds no lm_head"));
    }
}
