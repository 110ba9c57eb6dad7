package io.pipefill.worker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.WeightNames;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.TensorInfo;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Computed weights (--random-weights): deterministic, bounded, scaled like the generator's, shaped like a checkpoint. */
class RandomWeightsTest {

    @Test
    void valuesArePinned() {
        // random_fill.cu computes the same function on the device: a change here must be made there too
        RandomWeights.Init init = new RandomWeights.Init(0f, 1f);
        assertEquals(DType.floatToBf16(DType.bf16ToFloat(RandomWeights.value(42, 0, init))), RandomWeights.value(42, 0, init));
        short[] pinned = new short[4];
        for (int i = 0; i < 4; i++) {
            pinned[i] = RandomWeights.value(0x1234_5678_9ABC_DEF0L, i, init);
        }
        // splitmix64 of (seed + (i + 1) * golden), top 24 bits, 2u - 1, BF16: recomputed here independently
        for (int i = 0; i < 4; i++) {
            long z = 0x1234_5678_9ABC_DEF0L + (i + 1L) * 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            double u = (z >>> 40) / (double) (1 << 24);
            assertEquals(DType.floatToBf16((float) (2 * u - 1)), pinned[i], "element " + i);
        }
    }

    @Test
    void valuesStayInTheirRangeAndDifferAcrossTensorsAndSeeds() {
        ModelConfig c = ModelPreset.TINY.config(Architecture.LLAMA);
        RandomWeights a = new RandomWeights(c, 0);
        RandomWeights b = new RandomWeights(c, 1);
        String q = WeightNames.attn(0, "q_proj");
        String k = WeightNames.attn(0, "k_proj");
        assertNotEquals(a.tensorSeed(q), a.tensorSeed(k));
        assertNotEquals(a.tensorSeed(q), b.tensorSeed(q));
        assertEquals(a.tensorSeed(q), new RandomWeights(c, 0).tensorSeed(q));
        TensorInfo t = a.require(q, c.qDim(), c.hiddenSize());
        float[] v = new float[(int) t.elementCount()];
        a.readFloats(t, 0, v, 0, v.length);
        RandomWeights.Init init = a.init(q);
        float bound = init.halfWidth() * 1.01f;
        for (float x : v) {
            assertTrue(Math.abs(x - init.mean()) <= bound, x + " outside ±" + bound);
        }
        // reading a window gives the same elements as reading the whole tensor
        float[] window = new float[100];
        a.readFloats(t, 1000, window, 0, 100);
        for (int i = 0; i < 100; i++) {
            assertEquals(v[1000 + i], window[i]);
        }
    }

    @Test
    void scalesFollowTheGenerator(@TempDir Path dir) throws Exception {
        ModelConfig c = ModelPreset.TINY.config(Architecture.QWEN2);  // biases too
        new ModelGenerator(c, 3).write(dir);
        RandomWeights random = new RandomWeights(c, 3);
        try (Checkpoint generated = Checkpoint.open(dir); Checkpoint computed = Checkpoint.random(c, 3)) {
            for (Map.Entry<String, long[]> e : RandomWeights.shapes(c).entrySet()) {
                TensorInfo g = generated.require(e.getKey(), e.getValue());
                TensorInfo r = computed.require(e.getKey(), e.getValue());
                // both against the rule (mean, half-width/√3), within what n samples allow
                RandomWeights.Init init = random.init(e.getKey());
                double std = init.halfWidth() / Math.sqrt(3);
                double n = g.elementCount();
                for (double[] s : new double[][] {stats(generated.readAll(g)), stats(computed.readAll(r))}) {
                    assertEquals(init.mean(), s[0], 5 * std / Math.sqrt(n) + 1e-3, e.getKey() + " mean");
                    assertEquals(std, s[1], std * (0.05 + 3 / Math.sqrt(n)), e.getKey() + " standard deviation");
                }
            }
        }
    }

    @Test
    void unknownTensorsAndWrongShapesAreNamed() {
        ModelConfig c = ModelPreset.TINY.config(Architecture.LLAMA);
        Checkpoint ckpt = Checkpoint.random(c, 0);
        SafetensorsException unknown = assertThrows(SafetensorsException.class, () -> ckpt.require("model.bogus.weight", 1));
        assertTrue(unknown.getMessage().contains("model.bogus.weight"), unknown.getMessage());
        SafetensorsException shape = assertThrows(SafetensorsException.class,
                () -> ckpt.require(WeightNames.EMBED, 7, c.hiddenSize()));
        assertTrue(shape.getMessage().contains("[" + c.vocabSize() + ", " + c.hiddenSize() + "]"), shape.getMessage());
        assertTrue(ckpt.contains(WeightNames.LM_HEAD) && !ckpt.contains(WeightNames.attnBias(0, "q_proj")));
    }

    private static double[] stats(float[] v) {
        double sum = 0;
        for (float x : v) {
            sum += x;
        }
        double mean = sum / v.length;
        double sq = 0;
        for (float x : v) {
            sq += (x - mean) * (x - mean);
        }
        return new double[] {mean, Math.sqrt(sq / v.length)};
    }
}
