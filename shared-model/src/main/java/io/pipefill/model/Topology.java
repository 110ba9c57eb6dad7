package io.pipefill.model;

/**
 * PP stages × TP ranks. Rank r is stage r / tp, TP rank r % tp; the ranks of a stage form its TP group.
 */
public record Topology(int pp, int tp, LayerPartition partition) {

    public Topology {
        if (pp < 1 || tp < 1) {
            throw new IllegalArgumentException("--pp and --tp must be at least 1, got pp=" + pp + " tp=" + tp);
        }
        if (partition.stages() != pp) {
            throw new IllegalArgumentException("layer partition " + partition + " has " + partition.stages()
                    + " stages but pp=" + pp);
        }
    }

    /** Checks that the model can be split this way, with messages that say what would fit. */
    public static Topology of(ModelConfig c, int pp, int tp, String partitionText) {
        if (tp < 1 || pp < 1) {
            throw new IllegalArgumentException("--pp and --tp must be at least 1, got pp=" + pp + " tp=" + tp);
        }
        if (c.numHeads() % tp != 0 || c.numKvHeads() % tp != 0) {
            throw new IllegalArgumentException("--tp " + tp + " must divide the attention heads (" + c.numHeads()
                    + ") and the key/value heads (" + c.numKvHeads() + ")");
        }
        if (c.intermediateSize() % tp != 0) {
            throw new IllegalArgumentException("--tp " + tp + " must divide intermediate_size (" + c.intermediateSize() + ")");
        }
        if (c.moe() != null && c.moe().expertIntermediateSize() % tp != 0) {
            // each expert's SwiGLU width is split across the group, as the dense MLP's is
            throw new IllegalArgumentException("--tp " + tp + " must divide moe_intermediate_size ("
                    + c.moe().expertIntermediateSize() + ")");
        }
        LayerPartition p = partitionText == null ? LayerPartition.even(c.numLayers(), pp)
                : LayerPartition.parse(partitionText, c.numLayers(), pp);
        return new Topology(pp, tp, p);
    }

    public int worldSize() {
        return pp * tp;
    }

    public int stageOf(int rank) {
        return rank / tp;
    }

    public int tpRankOf(int rank) {
        return rank % tp;
    }

    public int rank(int stage, int tpRank) {
        return stage * tp + tpRank;
    }

    /** The ranks of one stage's TP group, in TP order. */
    public int[] group(int stage) {
        int[] g = new int[tp];
        for (int i = 0; i < tp; i++) {
            g[i] = rank(stage, i);
        }
        return g;
    }

    public String describe(int rank) {
        return "rank " + rank + " (stage " + stageOf(rank) + ", tp " + tpRankOf(rank) + ")";
    }
}
