package io.pipefill.worker.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.model.WeightLayout;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.safetensors.DType;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CUDA backend's BF16 weight packing has exactly CpuWeights' layout (fused q/k/v and gate/up rows, the same
 * tensor-parallel slices, biases and norms), value for value after rounding to BF16. Lives in the cpu package
 * to read CpuWeights, which is package-private.
 */
class CudaWeightLayoutTest {

    @ParameterizedTest
    @CsvSource({"tiny-llama,1,0", "tiny-llama,2,0", "tiny-llama,2,1", "tiny-qwen2,1,0",
                "tiny-qwen3,1,0", "tiny-qwen3,2,1", "tiny-mistral,2,0"})
    void packedBf16MatchesCpuWeights(String model, int tpSize, int rank) {
        Path dir = TestModels.committed(model);
        ModelConfig c = ModelDirectory.open(dir).config();
        TensorParallel tp = new TensorParallel(rank, tpSize, (d, n) -> { });
        // two stages (embedding-only and head-only halves) and the whole model (a tied lm_head shares the embedding)
        int mid = c.numLayers() / 2;
        StageShard[] shards = {new StageShard(0, mid, true, false), new StageShard(mid, c.numLayers(), false, true),
                               StageShard.whole(c)};
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            for (StageShard shard : shards) {
                WeightLayout.Stage layout = WeightLayout.plan(c, shard, tp, ckpt);
                try (CpuWeights cpu = CpuWeights.load(c, shard, tp, ckpt)) {
                    compare(c, ckpt, layout, cpu, model + " tp " + rank + "/" + tpSize + " " + shard);
                }
            }
        }
    }

    private static void compare(ModelConfig c, Checkpoint ckpt, WeightLayout.Stage layout, CpuWeights cpu, String what) {
        assertEquals(cpu.embedding == null, layout.embedding() == null, what);
        if (cpu.embedding != null) {
            same(cpu.embedding, ckpt, layout.embedding(), what);
        }
        assertEquals(cpu.layers.size(), layout.layers().size(), what);
        for (int l = 0; l < cpu.layers.size(); l++) {
            CpuWeights.Layer w = cpu.layers.get(l);
            WeightLayout.Layer g = layout.layers().get(l);
            String at = what + " layer " + l;
            same(w.inputNorm(), ckpt, g.inputNorm(), at);
            same(w.qkv(), ckpt, g.qkv(), at);
            same(w.qkvBias(), ckpt, g.qkvBias(), at);
            same(w.qNorm(), ckpt, g.qNorm(), at);
            same(w.kNorm(), ckpt, g.kNorm(), at);
            same(w.o(), ckpt, g.o(), at);
            same(w.oBias(), ckpt, g.oBias(), at);
            same(w.postNorm(), ckpt, g.postNorm(), at);
            same(w.gateUp(), ckpt, g.gateUp(), at);
            same(w.down(), ckpt, g.down(), at);
            // the GEMM shapes CudaStage assumes
            assertEquals(g.qkv().rows() * c.hiddenSize(), g.qkv().elements(), at);
            assertEquals(c.hiddenSize(), g.qkv().cols(), at);
            assertEquals(c.hiddenSize(), g.down().rows(), at);
        }
        assertEquals(cpu.lmHead == null, layout.lmHead() == null, what);
        if (cpu.lmHead != null) {
            same(cpu.finalNorm, ckpt, layout.finalNorm(), what);
            same(cpu.lmHead, ckpt, layout.lmHead(), what);
            assertEquals(cpu.lmHead == cpu.embedding, layout.lmHeadIsEmbedding(), what + " tied lm_head shares the embedding");
        }
        long bytes = layout.bf16Bytes();
        assertTrue(bytes > 0 && bytes * 2 <= cpu.bytes() + 8, what + ": BF16 is half of float32, " + bytes + " vs " + cpu.bytes());
    }

    private static void same(NativeFloats cpu, Checkpoint ckpt, WeightLayout.Buffer buffer, String what) {
        assertNotNull(buffer, what);
        float[] f = new float[(int) cpu.length()];
        cpu.get(0, f, 0, f.length);
        same(f, ckpt, buffer, what);
    }

    private static void same(float[] cpu, Checkpoint ckpt, WeightLayout.Buffer buffer, String what) {
        if (cpu == null) {
            assertNull(buffer, what + ": absent on the CPU, absent here");
            return;
        }
        assertNotNull(buffer, what);
        short[] expected = new short[cpu.length];
        for (int i = 0; i < cpu.length; i++) {
            expected[i] = DType.floatToBf16(cpu[i]);
        }
        assertArrayEquals(expected, WeightLayout.packAll(ckpt, buffer), what + " " + buffer.name());
    }
}
