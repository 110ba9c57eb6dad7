package io.pipefill.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.StageShard;
import io.pipefill.model.WeightNames;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.SafetensorsFile;
import io.pipefill.model.safetensors.SafetensorsWriter;
import io.pipefill.model.safetensors.TensorInfo;
import io.pipefill.worker.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Block-scaled FP8 weights: dequantised on read by their block's scale, and refused when the scale is wrong. */
class Fp8CheckpointTest {
    @TempDir
    Path dir;
    private final Path source = TestModels.committed("tiny-qwen3-moe-fp8");
    private static final String Q = WeightNames.attn(0, "q_proj"); // [128, 256]: scale [1, 2]

    @Test
    void everyElementIsItsFp8ValueTimesItsBlockScale() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(source); SafetensorsFile raw = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            TensorInfo q = ckpt.require(Q, 128, 256);
            assertEquals(DType.F8_E4M3, q.dtype());
            float[] values = ckpt.readAll(q);
            float[] codes = new float[128 * 256];
            raw.readFloats(q, 0, codes, 0, codes.length);
            float[] scale = new float[2];
            raw.readFloats(raw.tensors().get(Q + "_scale_inv"), 0, scale, 0, 2);
            assertTrue(scale[0] != scale[1], "two blocks, two scales");
            for (int r = 0; r < 128; r++) {
                for (int c = 0; c < 256; c++) {
                    assertEquals(codes[r * 256 + c] * scale[c / 128], values[r * 256 + c], 0f);
                }
            }
            // a column slice (tensor parallelism's o_proj) meets the second block at its own offset
            float[] slice = new float[8];
            ckpt.readFloats(q, 5 * 256 + 200, slice, 0, 8);
            for (int i = 0; i < 8; i++) {
                assertEquals(codes[5 * 256 + 200 + i] * scale[1], slice[i], 0f);
            }
        }
    }

    @Test
    void aWeightWithoutItsScaleIsRefused() throws Exception {
        Path broken = rewrite(t -> t.name().equals(Q + "_scale_inv") ? null : t);
        var e = assertThrows(SafetensorsException.class, () -> load(broken));
        assertTrue(e.getMessage().contains("F8_E4M3 tensor '" + Q + "' has no scale '" + Q + "_scale_inv' (float32 [1, 2], "
                + "one per [128, 128] block"), e.getMessage());
        assertTrue(e.getMessage().startsWith(broken.resolve("model.safetensors").toString()), e.getMessage());
    }

    @Test
    void aScaleOfTheWrongBlockShapeIsRefused() throws Exception {
        Path broken = rewrite(t -> t.name().equals(Q + "_scale_inv")
                ? new TensorInfo(t.name(), t.dtype(), new long[] {2, 1}, 0, 0) : t);
        var e = assertThrows(SafetensorsException.class, () -> load(broken));
        assertTrue(e.getMessage().contains("scale '" + Q + "_scale_inv' has shape [2, 1] but " + Q
                + " [128, 256] in [128, 128] blocks (quantization_config.weight_block_size) needs [1, 2]"), e.getMessage());
    }

    @Test
    void fp8WeightsNeedTheQuantizationConfig() throws Exception {
        Path broken = rewrite(t -> t);
        String config = Files.readString(broken.resolve("config.json"));
        int at = config.indexOf("\"quantization_config\"");
        int end = config.indexOf('}', at) + 1;
        Files.writeString(broken.resolve("config.json"), config.substring(0, at) + config.substring(end).replaceFirst("^\\s*,", ""));
        var e = assertThrows(SafetensorsException.class, () -> {
            try (Checkpoint ckpt = Checkpoint.open(broken)) {
                ckpt.require(Q, 128, 256);
            }
        });
        assertTrue(e.getMessage().contains("is F8_E4M3 but " + broken.resolve("config.json") + " has no quantization_config"),
                e.getMessage());
    }

    @Test
    void e4m3RoundsToNearestEvenAndSaturates() {
        for (int b = 0; b < 256; b++) {
            float v = DType.e4m3ToFloat((byte) b);
            if (!Float.isNaN(v)) {
                assertEquals(b == 0x80 ? 0x80 : b, DType.floatToE4M3(v) & 0xFF, "code " + b + " = " + v);
            }
        }
        assertEquals(448f, DType.e4m3ToFloat((byte) 0x7E));
        assertEquals(0x1p-9f, DType.e4m3ToFloat((byte) 0x01));
        assertEquals(0x1p-6f, DType.e4m3ToFloat((byte) 0x08));
        assertEquals(448f, DType.e4m3ToFloat(DType.floatToE4M3(1000f)));
        assertEquals(1.0f, DType.e4m3ToFloat(DType.floatToE4M3(1.0625f)), "halfway between 1 and 1.125 goes to even");
        assertEquals(1.25f, DType.e4m3ToFloat(DType.floatToE4M3(1.1875f)), "halfway between 1.125 and 1.25 goes to even");
        assertTrue(Float.isNaN(DType.e4m3ToFloat((byte) 0x7F)));
    }

    private void load(Path model) {
        ModelConfig c = ModelDirectory.open(model).config();
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            WeightLayout.plan(c, StageShard.whole(c), TensorParallel.NONE, ckpt);
        }
    }

    /** The committed model with its tensors passed through {@code edit} (null drops one; a new shape resizes it). */
    private Path rewrite(UnaryOperator<TensorInfo> edit) throws Exception {
        Path out = dir.resolve("model");
        Files.createDirectories(out);
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(source.resolve(f), out.resolve(f));
        }
        try (SafetensorsFile st = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (TensorInfo t : st.tensors().values()) {
                TensorInfo e = edit.apply(t);
                if (e == null) {
                    continue;
                }
                boolean same = java.util.Arrays.equals(e.shape(), t.shape());
                w.add(t.name(), t.dtype(), e.shape(), (first, block, count) -> {
                    if (same) {
                        st.readFloats(t, first, block, 0, count);
                    } else {
                        java.util.Arrays.fill(block, 0, count, 1f);
                    }
                });
            }
            w.write(out.resolve("model.safetensors"));
        }
        return out;
    }
}
