package io.pipefill.worker.create;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.StageShard;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelGeneratorTest {
    @TempDir
    Path dir;

    @Test
    void sameSeedSameBytesOtherSeedOtherWeights() throws Exception {
        ModelConfig c = ModelPreset.TINY.config(Architecture.QWEN3);
        new ModelGenerator(c, 5).write(dir.resolve("a"));
        new ModelGenerator(c, 5).write(dir.resolve("b"));
        new ModelGenerator(c, 6).write(dir.resolve("c"));
        byte[] a = Files.readAllBytes(dir.resolve("a/model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(dir.resolve("c/model.safetensors"))));
        ModelDirectory md = ModelDirectory.open(dir.resolve("a"));
        assertEquals(c, md.config());
        assertTrue(md.hasTokenizer());
    }

    @Test
    void refusesANonEmptyDirectoryAndTooSmallVocab() throws Exception {
        Files.writeString(dir.resolve("keep.txt"), "x");
        ModelConfig c = ModelPreset.TINY.config(Architecture.LLAMA);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new ModelGenerator(c, 0).write(dir))
                .getMessage().contains("is not empty"));
        ModelConfig small = new ModelConfig(Architecture.LLAMA, 100, 64, 128, 1, 4, 2, 16, 512, 1e4, null, 1e-5,
                false, false, "bfloat16");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new ModelGenerator(small, 0))
                .getMessage().contains("vocab_size must be at least 258"));
    }

    /** The residual stream keeps its scale through a deep stack: RMS within [0.5, 4] after every layer. */
    @Test
    void activationsStayWellScaledThroughDepth() throws Exception {
        ModelConfig c = new ModelConfig(Architecture.LLAMA, 512, 128, 384, 24, 4, 2, 32, 4096, 1e4, null, 1e-5,
                false, false, "bfloat16");
        Path m = dir.resolve("deep");
        new ModelGenerator(c, 1).write(m);
        int[] tokens = new SplittableRandom(1).ints(64, 0, 512).toArray();
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ckpt = Checkpoint.open(m)) {
            for (int layers : new int[] {0, 1, 6, 12, 24}) {
                try (Stage stage = backend.loadStage(c, new StageShard(0, layers, true, false), ckpt, 64);
                     Activations x = stage.allocate(64)) {
                    stage.embed(tokens, 0, 64, x);
                    stage.forward(x, 0, 64);
                    float[] h = new float[64 * 128];
                    x.copyToHost(64, h);
                    double ss = 0;
                    for (float v : h) {
                        ss += v * v;
                    }
                    double rms = Math.sqrt(ss / h.length);
                    assertTrue(rms > 0.5 && rms < 4, "RMS after " + layers + " layers: " + rms);
                }
            }
        }
    }
}
