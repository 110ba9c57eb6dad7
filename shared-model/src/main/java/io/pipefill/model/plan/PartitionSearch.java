package io.pipefill.model.plan;

import io.pipefill.model.LayerPartition;
import java.util.HashSet;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * Chooses how many consecutive layers each pipeline stage gets. The even split is right only when every layer
 * costs the same and the stages differ in nothing else; they do differ: the first stage also embeds, the last runs
 * the final norm and lm_head, MoE and dense layers cost differently (DeepSeek's first dense layers, Qwen3-MoE's
 * mlp_only_layers), and chunks that grow dearer along the prompt weigh the fill and the drain unequally.
 *
 * <p>Two starts: the even split, and the split that minimises the busiest stage's total work (each layer's time
 * over the whole schedule, the first stage's embedding and the last stage's lm_head added; exact, by dynamic
 * programming over the layers: the classic linear partition). From each, local search on the caller's judgement
 * of a partition (the simulated TTFT of a fixed chunk schedule, which also sees the fill, the drain and the sends):
 * every move of one stage boundary by one layer is tried and the best improving one kept; when none improves, one
 * that keeps the TTFT is taken if it reaches a partition not seen before (a busiest-stage objective has plateaus),
 * a few times in a row at most. Partitions the judge rules out (e.g. a stage whose memory does not fit) get +∞.
 */
public final class PartitionSearch {
    /** Partitions judged at most (each is one simulation): keeps the search bounded for deep models. */
    static final int MAX_JUDGEMENTS = 4000;
    /** Moves in a row that keep the TTFT (crossing a plateau) before a start gives up. */
    static final int MAX_SIDEWAYS = 8;

    /** The partition chosen, its judged TTFT, the even split's, and how many partitions were judged. */
    public record Result(LayerPartition partition, double ttftMs, LayerPartition even, double evenTtftMs,
                         int judgements) {

        /** Whether the search moved away from the even split. */
        public boolean uneven() {
            return !partition.equals(even);
        }
    }

    private PartitionSearch() {
    }

    /**
     * @param layerMs      each layer's time over the schedule (the work it brings to whichever stage holds it)
     * @param firstStageMs what only the first stage does besides its layers (the embedding)
     * @param lastStageMs  what only the last stage does besides its layers (final norm and lm_head)
     * @param ttftMs       the judge: a partition's TTFT in ms (+∞ when it cannot run)
     */
    public static Result search(int stages, double[] layerMs, double firstStageMs, double lastStageMs,
                                ToDoubleFunction<LayerPartition> ttftMs) {
        int layers = layerMs.length;
        LayerPartition even = LayerPartition.even(layers, stages);
        Set<LayerPartition> seen = new HashSet<>();
        int[] judged = {0};
        ToDoubleFunction<LayerPartition> judge = p -> {
            judged[0]++;
            return ttftMs.applyAsDouble(p);
        };
        double evenTtft = judge.applyAsDouble(even);
        seen.add(even);
        LayerPartition best = even;
        double bestTtft = evenTtft;
        LayerPartition balanced = balanced(layerMs, stages, firstStageMs, lastStageMs);
        for (LayerPartition start : new LayerPartition[] {even, balanced}) {
            double startTtft = start.equals(even) ? evenTtft : judge.applyAsDouble(start);
            seen.add(start);
            LayerPartition[] found = {start};
            double t = climb(start, startTtft, judge, seen, judged, found);
            if (t < bestTtft * (1 - 1e-9)) {
                best = found[0];
                bestTtft = t;
            }
        }
        return new Result(best, bestTtft, even, evenTtft, judged[0]);
    }

    private static double climb(LayerPartition start, double startTtft, ToDoubleFunction<LayerPartition> judge,
                                Set<LayerPartition> seen, int[] judged, LayerPartition[] out) {
        int stages = start.stages();
        int[] current = start.layersPerStage();
        double currentTtft = startTtft;
        double bestTtft = startTtft;
        int sideways = 0;
        while (stages > 1 && judged[0] < MAX_JUDGEMENTS) {
            int[] next = null;
            double nextTtft = Double.POSITIVE_INFINITY;
            int[] level = null;
            for (int b = 0; b + 1 < stages && judged[0] < MAX_JUDGEMENTS; b++) {
                for (int dir : new int[] {-1, 1}) { // -1: stage b hands a layer to b + 1; +1: takes one from it
                    int[] p = current.clone();
                    p[b] += dir;
                    p[b + 1] -= dir;
                    if (p[b] < 1 || p[b + 1] < 1) {
                        continue;
                    }
                    LayerPartition candidate = new LayerPartition(p);
                    if (!seen.add(candidate)) {
                        continue;
                    }
                    double t = judge.applyAsDouble(candidate);
                    if (t < nextTtft) {
                        next = p;
                        nextTtft = t;
                    }
                    if (level == null && Math.abs(t - currentTtft) <= 1e-9 * currentTtft) {
                        level = p;
                    }
                }
            }
            if (next != null && nextTtft < currentTtft * (1 - 1e-9)) {
                current = next;
                currentTtft = nextTtft;
                sideways = 0;
            } else if (level != null && sideways < MAX_SIDEWAYS) {
                current = level;
                sideways++;
            } else {
                break;
            }
            if (currentTtft < bestTtft * (1 - 1e-9)) {
                out[0] = new LayerPartition(current);
                bestTtft = currentTtft;
            }
        }
        return bestTtft;
    }

    /**
     * The split with the least busiest-stage work: f[s][i] = the least such maximum for layers [0, i) over s + 1
     * stages; the extras ride on the first and the last stage.
     */
    static LayerPartition balanced(double[] layerMs, int stages, double firstStageMs, double lastStageMs) {
        int layers = layerMs.length;
        double[] prefix = new double[layers + 1];
        for (int i = 0; i < layers; i++) {
            prefix[i + 1] = prefix[i] + layerMs[i];
        }
        double[][] f = new double[stages][layers + 1];
        int[][] cut = new int[stages][layers + 1];
        for (double[] row : f) {
            java.util.Arrays.fill(row, Double.POSITIVE_INFINITY);
        }
        for (int i = 1; i <= layers; i++) {
            f[0][i] = prefix[i] + firstStageMs + (stages == 1 ? lastStageMs : 0);
        }
        for (int s = 1; s < stages; s++) {
            double extra = s == stages - 1 ? lastStageMs : 0;
            for (int i = s + 1; i <= layers; i++) {
                for (int j = s; j < i; j++) { // stage s holds layers [j, i)
                    double v = Math.max(f[s - 1][j], prefix[i] - prefix[j] + extra);
                    if (v < f[s][i]) {
                        f[s][i] = v;
                        cut[s][i] = j;
                    }
                }
            }
        }
        int[] parts = new int[stages];
        int end = layers;
        for (int s = stages - 1; s > 0; s--) {
            int j = cut[s][end];
            parts[s] = end - j;
            end = j;
        }
        parts[0] = end;
        return new LayerPartition(parts);
    }
}
