package io.pipefill.worker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ModelDirectory;
import io.pipefill.model.WeightNames;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelConfigException;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.SafetensorsFile;
import io.pipefill.model.safetensors.SafetensorsWriter;
import io.pipefill.model.safetensors.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;
    private final Path source = TestModels.committed("tiny-llama");

    /** Splits the committed model into two shards with an index, as large Hugging Face checkpoints are. */
    private Path sharded() throws Exception {
        Path out = dir.resolve("sharded");
        Files.createDirectories(out);
        Files.copy(source.resolve("config.json"), out.resolve("config.json"));
        Map<String, String> weightMap = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
            for (TensorInfo t : st.tensors().values()) {
                int shard = t.name().contains("layers.0.") || t.name().contains("embed") ? 0 : 1;
                String file = "model-0000" + (shard + 1) + "-of-00002.safetensors";
                weightMap.put(t.name(), file);
                shards[shard].add(t.name(), t.dtype(), t.shape(), (first, block, count) ->
                        st.readFloats(t, first, block, 0, count));
            }
            shards[0].write(out.resolve("model-00001-of-00002.safetensors"));
            shards[1].write(out.resolve("model-00002-of-00002.safetensors"));
        }
        StringBuilder json = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        weightMap.forEach((k, v) -> json.append('"').append(k).append("\": \"").append(v).append("\","));
        json.setLength(json.length() - 1);
        json.append("}}");
        Files.writeString(out.resolve(ModelDirectory.INDEX_FILE), json);
        return out;
    }

    @Test
    void shardedCheckpointGivesTheSameLogits() throws Exception {
        int[] prompt = new SplittableRandom(3).ints(50, 0, 512).toArray();
        PrefillResult single = TestModels.prefill(source, prompt, 16, 2, 1);
        PrefillResult sharded = TestModels.prefill(sharded(), prompt, 16, 2, 1);
        assertArrayEquals(single.lastLogits(), sharded.lastLogits());
        assertArrayEquals(single.generated(), sharded.generated());
    }

    /** A stage reads only its shard: with the first file gone, the later layers and the head still load. */
    @Test
    void aStageOpensOnlyTheFilesOfItsLayers() throws Exception {
        Path m = sharded();
        Files.delete(m.resolve("model-00001-of-00002.safetensors"));
        ModelConfig c = ModelDirectory.open(m).config();
        try (var backend = new io.pipefill.worker.cpu.CpuBackend(1); Checkpoint ckpt = Checkpoint.open(m)) {
            try (var stage = backend.loadStage(c, new io.pipefill.model.StageShard(1, c.numLayers(), false, true), ckpt, 8)) {
                assertTrue(stage.weightBytes() > 0);
                assertTrue(stage.weightBytes() < io.pipefill.worker.cpu.CpuBackend.weightBytes(c, io.pipefill.model.StageShard.whole(c)));
            }
            String msg = assertThrows(SafetensorsException.class,
                    () -> backend.loadStage(c, new io.pipefill.model.StageShard(0, 1, true, false), ckpt, 8)).getMessage();
            assertTrue(msg.contains("model-00001-of-00002.safetensors: not found"), msg);
        }
    }

    @Test
    void namesMissingTensorsAndWrongShapes() {
        ModelConfig c = ModelDirectory.open(source).config();
        try (Checkpoint ckpt = Checkpoint.open(source)) {
            String missing = assertThrows(SafetensorsException.class,
                    () -> ckpt.require("model.layers.9.mlp.up_proj.weight", 384, 128)).getMessage();
            assertTrue(missing.contains("missing tensor 'model.layers.9.mlp.up_proj.weight' (expected shape [384, 128])"), missing);
            String shape = assertThrows(SafetensorsException.class,
                    () -> ckpt.require(WeightNames.attn(0, "q_proj"), c.qDim(), c.hiddenSize() + 1)).getMessage();
            assertTrue(shape.contains("'model.layers.0.self_attn.q_proj.weight' has shape [128, 128] but config.json implies [128, 129]"), shape);
        }
    }

    @Test
    void configThatDisagreesWithTheWeightsIsCaughtAtLoad() throws Exception {
        Path m = dir.resolve("wrong");
        Files.createDirectories(m);
        Files.copy(source.resolve("model.safetensors"), m.resolve("model.safetensors"));
        Files.writeString(m.resolve("config.json"), Files.readString(source.resolve("config.json"))
                .replace("\"intermediate_size\" : 384", "\"intermediate_size\" : 400"));
        String msg = assertThrows(SafetensorsException.class, () -> TestModels.prefill(m, new int[] {1, 2}, 2, 0, 1)).getMessage();
        assertTrue(msg.contains("gate_proj.weight' has shape [384, 128] but config.json implies [400, 128]"), msg);
    }

    @Test
    void explainsMissingFiles() throws Exception {
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        assertTrue(assertThrows(ModelConfigException.class, () -> ModelDirectory.open(empty)).getMessage()
                .contains("config.json: not found"));
        assertTrue(assertThrows(SafetensorsException.class, () -> Checkpoint.open(empty)).getMessage()
                .contains("no weights found: expected model.safetensors or model.safetensors.index.json"));
        Files.writeString(empty.resolve(ModelDirectory.INDEX_FILE), "{\"weight_map\": {\"a\": \"../etc/passwd\"}}");
        assertTrue(assertThrows(SafetensorsException.class, () -> Checkpoint.open(empty)).getMessage()
                .contains("must name a shard file in the model directory"));
        Files.writeString(empty.resolve(ModelDirectory.INDEX_FILE), "{\"weight_map\": {\"a\": \"gone.safetensors\"}}");
        try (Checkpoint ckpt = Checkpoint.open(empty)) {
            assertTrue(assertThrows(SafetensorsException.class, () -> ckpt.require("a", 1)).getMessage()
                    .contains("gone.safetensors: not found"));
        }
    }
}
