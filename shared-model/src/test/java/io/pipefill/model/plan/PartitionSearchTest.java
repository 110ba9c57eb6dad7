package io.pipefill.model.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.LayerPartition;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PartitionSearchTest {

    /** The busiest stage's work when layer i costs w[i]: what a long pipeline's TTFT follows. */
    private static double busiest(double[] w, LayerPartition p) {
        double worst = 0;
        for (int s = 0; s < p.stages(); s++) {
            var sh = p.shard(s);
            worst = Math.max(worst, Arrays.stream(w, sh.firstLayer(), sh.endLayer()).sum());
        }
        return worst;
    }

    /** The busiest stage's load with the first stage's and the last stage's extras. */
    private static double loads(double[] w, LayerPartition p, double first, double last) {
        double worst = 0;
        for (int s = 0; s < p.stages(); s++) {
            var sh = p.shard(s);
            double t = Arrays.stream(w, sh.firstLayer(), sh.endLayer()).sum() + (s == 0 ? first : 0)
                    + (s == p.stages() - 1 ? last : 0);
            worst = Math.max(worst, t);
        }
        return worst;
    }

    @Test
    void identicalLayersKeepTheEvenSplit() {
        double[] w = new double[12];
        Arrays.fill(w, 1);
        PartitionSearch.Result r = PartitionSearch.search(4, w, 0, 0, p -> busiest(w, p));
        assertFalse(r.uneven());
        assertEquals(LayerPartition.even(12, 4), r.partition());
    }

    @Test
    void cheapLayersGatherWhereTheyAreAndTheResultIsTheBruteForceOptimum() {
        // 4 cheap (dense) layers then 8 dear (MoE) ones, 3 stages; the first stage also embeds, the last runs the
        // lm_head; judged as a pipeline of 8 equal chunks: every stage once (fill and drain), the busiest 7 more times
        double[] w = {1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3};
        java.util.function.ToDoubleFunction<LayerPartition> ttft = p -> {
            double sum = 0;
            double max = 0;
            for (int s = 0; s < 3; s++) {
                var sh = p.shard(s);
                double t = Arrays.stream(w, sh.firstLayer(), sh.endLayer()).sum() + (s == 0 ? 0.4 : 0) + (s == 2 ? 0.7 : 0);
                sum += t;
                max = Math.max(max, t);
            }
            return sum + 7 * max;
        };
        PartitionSearch.Result r = PartitionSearch.search(3, w, 0.4, 0.7, ttft);
        assertTrue(r.uneven(), r.partition().toString());
        assertTrue(r.ttftMs() < r.evenTtftMs());
        double best = Double.POSITIVE_INFINITY;
        for (int a = 1; a <= 10; a++) {
            for (int b = 1; a + b <= 11; b++) {
                best = Math.min(best, ttft.applyAsDouble(new LayerPartition(new int[] {a, b, 12 - a - b})));
            }
        }
        assertEquals(best, r.ttftMs(), 1e-12, r.partition().toString());
        // the busiest-stage split alone: exact by its DP, against the same brute force
        double bestMax = Double.POSITIVE_INFINITY;
        for (int a = 1; a <= 10; a++) {
            for (int b = 1; a + b <= 11; b++) {
                LayerPartition p = new LayerPartition(new int[] {a, b, 12 - a - b});
                bestMax = Math.min(bestMax, loads(w, p, 0.4, 0.7));
            }
        }
        assertEquals(bestMax, loads(w, PartitionSearch.balanced(w, 3, 0.4, 0.7), 0.4, 0.7), 1e-12);
    }

    @Test
    void partitionsThatCannotRunAreAvoided() {
        double[] w = {1, 1, 1, 1, 1, 1, 3, 3};
        // unconstrained, 6,2 balances the stages (6 and 6); with at most 5 layers a stage (say, memory) the best
        // split that can run is 5,3 (busiest 7), still better than the even 4,4 (busiest 8)
        PartitionSearch.Result r = PartitionSearch.search(2, w, 0, 0, p -> Arrays.stream(p.layersPerStage()).max()
                .orElseThrow() > 5 ? Double.POSITIVE_INFINITY : busiest(w, p));
        assertArrayEquals(new int[] {5, 3}, r.partition().layersPerStage(), "searched " + r.partition());
    }
}
