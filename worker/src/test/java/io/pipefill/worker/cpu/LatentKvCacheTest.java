package io.pipefill.worker.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.MlaConfig;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.StageShard;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.engine.CapacityCheck;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.TensorParallel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Latent attention caches only the latent and the rotary key: (kv_lora_rank + qk_rope_head_dim) × layers × 4
 * bytes per position in float32, on every tensor-parallel rank, and the KV budget refuses by that size.
 */
class LatentKvCacheTest {
    private final Path model = TestModels.committed("tiny-deepseek-v3");
    private final ModelConfig config = ModelDirectory.open(model).config();

    private long perPosition(int layers) {
        MlaConfig a = config.mla();
        return (long) (a.kvLoraRank() + a.qkRopeHeadDim()) * layers * Float.BYTES;
    }

    @Test
    void aLoadedStageHoldsTheLatentAndTheRotaryKeyPerPositionAndLayer() {
        int capacity = 300;
        StageShard shard = StageShard.whole(config);
        try (CpuBackend backend = new CpuBackend(1);
             Checkpoint ckpt = Checkpoint.open(model);
             Stage stage = backend.loadStage(config, shard, ckpt, capacity)) {
            assertEquals(perPosition(3) * capacity, stage.kvCacheBytes());
        }
        assertEquals(perPosition(3), CpuBackend.kvCacheBytes(config, shard, 1));
    }

    @Test
    void everyTensorParallelRankKeepsTheWholeLatent() {
        StageShard shard = new StageShard(1, 3, false, true);
        try (CpuBackend backend = new CpuBackend(1);
             Checkpoint ckpt = Checkpoint.open(model);
             Stage stage = backend.loadStage(config, shard, new TensorParallel(1, 2, (d, n) -> { }), ckpt, 64)) {
            assertEquals(perPosition(2) * 64, stage.kvCacheBytes());
        }
    }

    @Test
    void theKvBudgetRefusesByTheLatentSize() {
        long perPosition = CpuBackend.kvCacheBytes(config, StageShard.whole(config), 1);
        long budget = perPosition * 1000;
        CapacityCheck.check(config, 1000, 1, perPosition, budget); // 1000 positions (the last new token is not kept)
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CapacityCheck.check(config, 1001, 1, perPosition, budget));
        assertTrue(e.getMessage().contains("at most 1000 positions"), e.getMessage());
    }
}
