package io.pipefill.worker.comm;

import io.pipefill.model.Topology;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * One rank's communication groups in a PP × TP pipeline: the world (barriers, the run's broadcasts), its
 * tensor-parallel group (the ranks of its stage, summing partial outputs), its pipeline neighbours (the same
 * TP rank of the previous and next stage, whose hidden states it receives and sends), and where decode
 * tokens come from and go to. Derived once from the topology, so that no caller does rank arithmetic.
 *
 * @param previous the rank this one receives hidden states from, or -1 on the first stage
 * @param next     the rank this one sends hidden states to, or -1 on the last stage
 * @param tokenSource the rank that computes logits and samples tokens (TP rank 0 of the last stage)
 */
public record Groups(Topology topology, int rank, int[] world, int[] tensorParallel, int previous, int next,
                     int[] firstStage, int tokenSource) {

    public static Groups of(Topology topology, int rank) {
        if (rank < 0 || rank >= topology.worldSize()) {
            throw new IllegalArgumentException("rank " + rank + " is outside the world of " + topology.worldSize()
                    + " ranks (pp " + topology.pp() + " × tp " + topology.tp() + ")");
        }
        int stage = topology.stageOf(rank);
        int tpRank = topology.tpRankOf(rank);
        int last = topology.pp() - 1;
        return new Groups(topology, rank, IntStream.range(0, topology.worldSize()).toArray(), topology.group(stage),
                stage == 0 ? -1 : topology.rank(stage - 1, tpRank), stage == last ? -1 : topology.rank(stage + 1, tpRank),
                topology.group(0), topology.rank(last, 0));
    }

    public Groups {
        world = world.clone();
        tensorParallel = tensorParallel.clone();
        firstStage = firstStage.clone();
    }

    @Override
    public int[] world() {
        return world.clone();
    }

    @Override
    public int[] tensorParallel() {
        return tensorParallel.clone();
    }

    @Override
    public int[] firstStage() {
        return firstStage.clone();
    }

    public int stage() {
        return topology.stageOf(rank);
    }

    public int tpRank() {
        return topology.tpRankOf(rank);
    }

    public boolean firstStageRank() {
        return previous < 0;
    }

    public boolean lastStageRank() {
        return next < 0;
    }

    /** Only TP rank 0 of the last stage computes logits (once per stage is enough). */
    public boolean computesLogits() {
        return rank == tokenSource;
    }

    /** "rank 3 (stage 1, tp 1)": how errors name a rank. */
    public String describe() {
        return topology.describe(rank);
    }

    @Override
    public String toString() {
        return describe() + " world " + world.length + " tp " + Arrays.toString(tensorParallel) + " prev " + previous
                + " next " + next;
    }
}
