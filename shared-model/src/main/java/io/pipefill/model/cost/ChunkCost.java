package io.pipefill.model.cost;

/**
 * One stage's cost for one chunk on one GPU of its TP group, in ms, split by what it is spent on. GEMM and
 * attention terms are already the max of their compute time and their memory-bound floor (the
 * {@code *Bound} flags say which won). FLOPs are per GPU.
 */
public record ChunkCost(double gemmMs, double attentionMs, double allReduceMs, double overheadMs, double gemmFlops,
                       double attentionFlops, boolean gemmMemoryBound, boolean attentionMemoryBound) {

    public double totalMs() {
        return gemmMs + attentionMs + allReduceMs + overheadMs;
    }

    public double computeMs() {
        return gemmMs + attentionMs;
    }

    public ChunkCost plus(ChunkCost o) {
        return new ChunkCost(gemmMs + o.gemmMs, attentionMs + o.attentionMs, allReduceMs + o.allReduceMs,
                overheadMs + o.overheadMs, gemmFlops + o.gemmFlops, attentionFlops + o.attentionFlops,
                gemmMemoryBound || o.gemmMemoryBound, attentionMemoryBound || o.attentionMemoryBound);
    }

    public ChunkCost times(int k) {
        return new ChunkCost(gemmMs * k, attentionMs * k, allReduceMs * k, overheadMs * k, gemmFlops * k,
                attentionFlops * k, gemmMemoryBound, attentionMemoryBound);
    }

    public static final ChunkCost ZERO = new ChunkCost(0, 0, 0, 0, 0, 0, false, false);
}
