package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LayerPartitionTest {
    @Test
    void evenSplitGivesTheExtraLayersToTheLastStages() {
        assertArrayEquals(new int[] {15, 15, 15, 16}, LayerPartition.even(61, 4).layersPerStage());
        assertArrayEquals(new int[] {2, 3, 3}, LayerPartition.even(8, 3).layersPerStage());
        assertArrayEquals(new int[] {4}, LayerPartition.even(4, 1).layersPerStage());
        LayerPartition p = LayerPartition.even(8, 3);
        assertEquals(new StageShard(0, 2, true, false), p.shard(0));
        assertEquals(new StageShard(2, 5, false, false), p.shard(1));
        assertEquals(new StageShard(5, 8, false, true), p.shard(2));
    }

    @Test
    void explicitPartitionsAreValidated() {
        assertArrayEquals(new int[] {3, 3, 2}, LayerPartition.parse("3,3,2", 8, 3).layersPerStage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LayerPartition.parse("3,3,3", 8, 3))
                .getMessage().contains("sums to 9 but the model has 8 layers"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LayerPartition.parse("4,4", 8, 3))
                .getMessage().contains("has 2 entries but there are 3 pipeline stages"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LayerPartition.parse("4,x,4", 8, 3))
                .getMessage().contains("entry 2 ('x') is not a whole number"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LayerPartition.parse("8,0", 8, 2))
                .getMessage().contains("has no layers"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LayerPartition.even(4, 5))
                .getMessage().contains("5 pipeline stages for a model of 4 layers"));
    }

    @Test
    void topologyChecksTensorParallelDivisibility() {
        ModelConfig c = ModelPreset.TINY.config(Architecture.LLAMA); // 4 heads, 2 kv heads, 4 layers
        Topology t = Topology.of(c, 2, 2, null);
        assertEquals(4, t.worldSize());
        assertEquals(1, t.stageOf(3));
        assertEquals(1, t.tpRankOf(3));
        assertArrayEquals(new int[] {2, 3}, t.group(1));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Topology.of(c, 1, 4, null))
                .getMessage().contains("--tp 4 must divide the attention heads (4) and the key/value heads (2)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Topology.of(c, 5, 1, null))
                .getMessage().contains("5 pipeline stages for a model of 4 layers"));
    }
}
