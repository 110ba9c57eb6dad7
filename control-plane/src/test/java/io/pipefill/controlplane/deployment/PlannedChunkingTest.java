package io.pipefill.controlplane.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.plan.ChunkScheduleOptimizer;
import io.pipefill.model.plan.MeasuredChunkCosts;
import io.pipefill.model.sim.PipelineSimulator;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rules of planned chunking that need no database: curve checks, calibration chunks, the optimiser's use. */
class PlannedChunkingTest {
    private final PlannedChunking planned = new PlannedChunking(Duration.ofSeconds(10), 8192);

    @Test
    void aCurveMustBePositiveEverywhereNotOnlyAtTheEnds() {
        assertThat(PlannedChunking.nonPositive(List.of(1.0, 0.01, 1e-6, 1e-6), 2048, 8192)).isNull();
        // positive at n = 1 and n = 2048, negative at the vertex n = 50: 1 − 5 + 2.5
        assertThat(PlannedChunking.nonPositive(List.of(1.0, -0.1, 0.0, 0.001), 2048, 8192))
                .contains("-1.500 ms for a chunk of 50 tokens after a prefix of 0");
        // a negative prefix term only shows at the longest prefix
        assertThat(PlannedChunking.nonPositive(List.of(1.0, 0.01, -1e-5, 0.0), 2048, 8192))
                .contains("after a prefix of 8191");
        assertThat(PlannedChunking.nonPositive(List.of(1.0, Double.NaN, 0.0, 0.0), 2048, 8192)).contains("finite");
    }

    @Test
    void theCalibrationCyclesAlignedSizesUpToTheLargestChunkOverMaxTokensMinusOne() {
        List<Integer> sizes = planned.calibrationChunks(1000, 256);
        assertThat(sizes).startsWith(64, 128, 256, 64, 128, 256);
        assertThat(sizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(999);
        assertThat(planned.calibrationChunks(1 << 20, 2048).stream().mapToInt(Integer::intValue).sum()).isEqualTo(8192);
        // a largest chunk that is not a power of two still ends the cycle
        assertThat(planned.calibrationChunks(1 << 20, 192)).startsWith(64, 128, 192, 64);
    }

    @Test
    void thePlannedScheduleKeepsTheBoundsAndIsNoSlowerThanAnyFixedSeed() {
        MeasuredChunkCosts costs = new MeasuredChunkCosts(new double[][] {{2.0, 0.01, 3e-6, 1e-6}, {1.0, 0.012, 3e-6, 0}},
                0.1, 1e-4, 0);
        ChunkScheduleOptimizer.Result r = PlannedChunking.optimise(costs, 2, 5000, 512);
        assertThat(new ChunkScheduleOptimizer.Bounds(64, 64, 512).violation(r.schedule())).isNull();
        assertThat(r.schedule().promptTokens()).isEqualTo(5000);
        PipelineSimulator sim = PipelineSimulator.engine(2, costs.latency(), costs.link(), 0);
        for (int c : new int[] {64, 128, 256, 512}) {
            assertThat(r.ttftMs()).isLessThanOrEqualTo(sim.ttftMs(ChunkSchedule.fixed(5000, c)) + 1e-9);
        }
        assertThat(r.ttftMs()).isEqualTo(sim.ttftMs(r.schedule()));
    }
}
