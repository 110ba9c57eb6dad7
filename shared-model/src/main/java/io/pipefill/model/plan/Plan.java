package io.pipefill.model.plan;

import io.pipefill.model.cost.ChunkCost;
import io.pipefill.model.cost.Layout;
import io.pipefill.model.cost.MemoryEstimate;
import io.pipefill.model.sim.SimulationResult;
import java.util.List;

/**
 * One evaluated layout with its best chunking: the simulated pipeline, the memory of its fullest stage, where the
 * busiest stage spends its time, the chunk configurations tried, and the explanation. {@code evenPartitionTtftMs}
 * is the TTFT of the even layer split with its own best chunking when the planner searched partitions and chose
 * another, else NaN.
 */
public record Plan(Layout layout, ChunkingChoice chunking, SimulationResult simulation, MemoryEstimate memory,
                   int busiestStage, ChunkCost busiestStageCost, List<SweepPoint> sweep, String reason,
                   double evenPartitionTtftMs) {

    public Plan(Layout layout, ChunkingChoice chunking, SimulationResult simulation, MemoryEstimate memory,
                int busiestStage, ChunkCost busiestStageCost, List<SweepPoint> sweep, String reason) {
        this(layout, chunking, simulation, memory, busiestStage, busiestStageCost, sweep, reason, Double.NaN);
    }

    /** One chunk configuration tried for this layout. */
    public record SweepPoint(String chunking, double ttftMs) {
    }

    public double ttftMs() {
        return simulation.ttftMs();
    }

    public double tokensPerSecond() {
        return simulation.prefillTokensPerSecond();
    }

    public double tokensPerSecondPerGpu() {
        return tokensPerSecond() / layout.gpus();
    }

    public Plan withReason(String r) {
        return new Plan(layout, chunking, simulation, memory, busiestStage, busiestStageCost, sweep, r,
                evenPartitionTtftMs);
    }

    public Plan withEvenPartitionTtftMs(double ms) {
        return new Plan(layout, chunking, simulation, memory, busiestStage, busiestStageCost, sweep, reason, ms);
    }

    /** Whether the layer split was searched and differs from the even one. */
    public boolean partitionSearched() {
        return !Double.isNaN(evenPartitionTtftMs);
    }
}
