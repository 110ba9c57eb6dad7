package io.pipefill.model.cost;

import io.pipefill.model.LayerPartition;
import io.pipefill.model.hw.Cluster;
import java.util.ArrayList;
import java.util.List;

/**
 * PP stages × TP ranks with a layer partition, placed on a cluster rank by rank (rank = stage × tp + tp rank,
 * ranks fill nodes in order, as the engine numbers them).
 */
public record Layout(int pp, int tp, LayerPartition partition) {

    public Layout {
        if (pp < 1 || tp < 1) {
            throw new IllegalArgumentException("PP and TP must be at least 1, got PP " + pp + ", TP " + tp);
        }
        if (partition.stages() != pp) {
            throw new IllegalArgumentException("layer partition " + partition + " has " + partition.stages()
                    + " stages but PP is " + pp);
        }
    }

    public int gpus() {
        return pp * tp;
    }

    public String name() {
        return "PP" + pp + "×TP" + tp;
    }

    /**
     * Checks that the model can be split this way on the cluster and returns the layout; every message says what
     * is wrong and what would be allowed.
     *
     * @param partitionText an explicit partition ("15,15,15,16") or null for the even split
     */
    public static Layout of(ModelSpec m, Cluster c, int pp, int tp, String partitionText, boolean allowInterNodeTp) {
        List<String> problems = problems(m, c, pp, tp, allowInterNodeTp);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("PP" + pp + "×TP" + tp + ": " + String.join("; ", problems));
        }
        LayerPartition p = partitionText == null ? LayerPartition.even(m.numLayers(), pp)
                : LayerPartition.parse(partitionText, m.numLayers(), pp);
        return new Layout(pp, tp, p);
    }

    /** Everything that rules the layout out (empty if it can be built); memory is checked separately. */
    public static List<String> problems(ModelSpec m, Cluster c, int pp, int tp, boolean allowInterNodeTp) {
        List<String> out = new ArrayList<>();
        if (pp < 1 || tp < 1) {
            out.add("PP and TP must be at least 1");
            return out;
        }
        if ((long) pp * tp > c.totalGpus()) {
            out.add(String.format("needs %d GPUs but the cluster has %d (%d nodes × %d)", pp * tp, c.totalGpus(),
                    c.nodes(), c.gpusPerNode()));
        }
        if (pp > m.numLayers()) {
            out.add("PP " + pp + " exceeds the model's " + m.numLayers() + " layers (every stage needs at least one layer)");
        }
        int heads = m.attention().heads();
        if (heads % tp != 0) {
            out.add("TP " + tp + " does not divide the " + heads + " attention heads (allowed: " + divisors(heads) + ")");
        }
        if (m.attention() instanceof AttentionSpec.Gqa g && g.kvHeads() % tp != 0 && tp % g.kvHeads() != 0) {
            out.add("TP " + tp + " neither divides the " + g.kvHeads() + " key/value heads nor is a multiple of them "
                    + "(then each KV head is replicated on TP / " + g.kvHeads() + " ranks)");
        }
        boolean anyDense = m.moeLayerCount() < m.numLayers();
        if (anyDense && m.intermediateSize() % tp != 0) {
            out.add("TP " + tp + " does not divide intermediate_size " + m.intermediateSize());
        }
        if (m.hasMoe()) {
            // experts are spread whole over the TP group (expert parallelism inside the group)
            if (m.moe().experts() % tp != 0) {
                out.add("TP " + tp + " does not divide the " + m.moe().experts() + " experts (each rank holds whole experts;"
                        + " allowed: " + divisors(m.moe().experts()) + ")");
            }
            if (m.moe().sharedIntermediate() % tp != 0) {
                out.add("TP " + tp + " does not divide the shared experts' width " + m.moe().sharedIntermediate());
            }
        }
        int g = c.gpusPerNode();
        if (tp > g) {
            if (!allowInterNodeTp) {
                out.add("TP " + tp + " spans nodes of " + g + " GPUs (TP all-reduces every layer over the NIC);"
                        + " TP is kept inside a node unless inter-node TP is allowed");
            } else if (tp % g != 0) {
                out.add("TP " + tp + " across nodes must be a multiple of the " + g + " GPUs per node");
            }
        } else if (g % tp != 0) {
            out.add("TP " + tp + " does not divide the " + g + " GPUs per node, so some TP groups would straddle two nodes");
        }
        return out;
    }

    private static String divisors(int n) {
        List<String> d = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            if (n % i == 0) {
                d.add(String.valueOf(i));
            }
        }
        return String.join(", ", d);
    }
}
