package io.pipefill.worker.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.LayerPartition;
import io.pipefill.model.Topology;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A rank's groups in PP 3 × TP 2 (ranks 0..5; stage s holds ranks 2s, 2s + 1), and the TP all-reduce over them. */
class GroupsTest {
    private final Topology topo = new Topology(3, 2, LayerPartition.even(6, 3));

    @Test
    void aMiddleRankHasBothNeighboursAndItsStagesTensorParallelGroup() {
        Groups g = Groups.of(topo, 3);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, g.world());
        assertArrayEquals(new int[] {2, 3}, g.tensorParallel());
        assertEquals(1, g.previous());
        assertEquals(5, g.next());
        assertArrayEquals(new int[] {0, 1}, g.firstStage());
        assertEquals(4, g.tokenSource());
        assertFalse(g.firstStageRank() || g.lastStageRank() || g.computesLogits());
        assertEquals("rank 3 (stage 1, tp 1)", g.describe());
    }

    @Test
    void theEndsOfThePipeline() {
        Groups first = Groups.of(topo, 1);
        assertTrue(first.firstStageRank());
        assertEquals(-1, first.previous());
        assertEquals(3, first.next());
        Groups last = Groups.of(topo, 4);
        assertTrue(last.lastStageRank() && last.computesLogits());
        assertEquals(-1, last.next());
        assertFalse(Groups.of(topo, 5).computesLogits(), "only TP rank 0 of the last stage computes logits");
        var e = assertThrows(IllegalArgumentException.class, () -> Groups.of(topo, 6));
        assertTrue(e.getMessage().contains("outside the world of 6 ranks"), e.getMessage());
    }

    @Test
    void theTensorParallelGroupSumsOverTheAttachedTransportOrComputesAlone() throws Exception {
        InProcessTransport.Fabric fabric = new InProcessTransport.Fabric(6, Duration.ofSeconds(5));
        TensorParallelGroup a = new TensorParallelGroup(Groups.of(topo, 2));
        TensorParallelGroup b = new TensorParallelGroup(Groups.of(topo, 3));
        var unattached = assertThrows(IllegalStateException.class, () -> a.sum(new float[1], 1));
        assertTrue(unattached.getMessage().contains("rank 2 (stage 1, tp 0)"), unattached.getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.attach(fabric.endpoint(3)));
        a.attach(fabric.endpoint(2));
        b.attach(fabric.endpoint(3));
        float[] x = {1, 2};
        float[] y = {10, 20};
        Thread other = new Thread(() -> b.sum(y, 2));
        other.start();
        a.sum(x, 2);
        other.join();
        assertArrayEquals(new float[] {11, 22}, x);
        assertArrayEquals(new float[] {11, 22}, y);
        float[] alone = {3};
        a.computeAlone(() -> a.sum(alone, 1));
        assertArrayEquals(new float[] {3}, alone, "alone: the partial sum is left as it is");
        a.detach();
        assertThrows(IllegalStateException.class, () -> a.sum(new float[1], 1));
    }
}
