package io.pipefill.worker.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every PP × TP layout, with fixed and dynamic chunks, gives the single-process unchunked logits
 * (max |Δ| / max |logit| ≤ 1e-4) and the same greedy tokens; each rank holds only its shard.
 */
class InProcessPipelineTest {
    static final double TOLERANCE = 1e-4;
    static final Path MODEL = TestModels.committed("tiny-llama"); // 4 layers, 4/2 heads, intermediate 384
    static final int[] PROMPT = new SplittableRandom(5).ints(333, 0, 512).toArray();
    /** A fit whose chunks shrink visibly: 100 first, then x* ≈ 46 smoothed to 59.6, aligned down to 64. */
    static final LatencyFit FIT = new LatencyFit(2e-3, 0.05, 1.0);
    static PrefillResult reference;

    static synchronized PrefillResult reference() {
        if (reference == null) {
            reference = TestModels.prefill(MODEL, PROMPT, PROMPT.length, 5, 1);
        }
        return reference;
    }

    static PipelineSpec spec(int pp, int tp, boolean dynamic, LatencyFit fit, int chunk, String partition) {
        ModelConfig c = ModelDirectory.open(MODEL).config();
        return new PipelineSpec(MODEL.toString(), Topology.of(c, pp, tp, partition), chunk, dynamic, 0.75, fit, 1,
                Duration.ofSeconds(30), List.of(new PipelineSpec.Request(PROMPT, 5)));
    }

    @ParameterizedTest(name = "pp={0} tp={1} dynamic={2}")
    @CsvSource({"1,1,false", "2,1,false", "3,1,false", "4,1,false", "1,2,false", "2,2,false", "3,2,false", "4,2,false",
                "1,1,true", "2,1,true", "3,1,true", "4,1,true", "1,2,true", "2,2,true", "3,2,true", "4,2,true"})
    void layoutsMatchTheSingleProcessReference(int pp, int tp, boolean dynamic) {
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec(pp, tp, dynamic, dynamic ? FIT : null, 100, null));
        RequestResult res = r.result(0);
        double err = TestModels.relativeError(res.lastLogits(), reference().lastLogits());
        assertTrue(err <= TOLERANCE, "relative error " + err);
        assertArrayEquals(reference().generated(), res.generated());
        assertEquals(dynamic, r.chunking().dynamicUsed());

        List<StageEvent> stage0 = r.timeline().prefill(0).stream().filter(e -> e.stage() == 0).toList();
        assertEquals(PROMPT.length, stage0.stream().mapToInt(StageEvent::size).sum());
        if (dynamic) {
            assertEquals(100, stage0.get(0).size(), "the first chunk is the base");
            assertTrue(stage0.get(1).size() < 100, "later chunks shrink: " + stage0);
        }
        // each rank holds only its shard: together the ranks hold one copy of every layer
        ModelConfig c = ModelDirectory.open(MODEL).config();
        long whole = CpuBackend.weightBytes(c, io.pipefill.model.StageShard.whole(c));
        long max = r.weightBytesPerRank().values().stream().mapToLong(Long::longValue).max().orElseThrow();
        if (pp * tp > 1) {
            assertTrue(max < whole * 0.8, "largest rank holds " + max + " of " + whole + " bytes");
        }
    }

    /** An uneven planned-style schedule: large first, shrinking, a short remainder (333 tokens). */
    static final List<Integer> SCHEDULE = List.of(128, 64, 64, 50, 27);

    @ParameterizedTest(name = "explicit schedule pp={0} tp={1}")
    @CsvSource({"1,1", "2,1", "3,1", "4,1", "1,2", "2,2", "3,2", "4,2"})
    void anExplicitScheduleMatchesTheUnchunkedReference(int pp, int tp) {
        ModelConfig c = ModelDirectory.open(MODEL).config();
        PipelineSpec spec = new PipelineSpec(MODEL.toString(), Topology.of(c, pp, tp, null), 64, false, 0.75, null, 1,
                Duration.ofSeconds(30), List.of(new PipelineSpec.Request(PROMPT, 5)), SCHEDULE);
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec);
        RequestResult res = r.result(0);
        double err = TestModels.relativeError(res.lastLogits(), reference().lastLogits());
        assertTrue(err <= TOLERANCE, "relative error " + err);
        assertArrayEquals(reference().generated(), res.generated());
        for (int stage = 0; stage < pp; stage++) {
            int s = stage;
            List<Integer> ran = r.timeline().prefill(0).stream().filter(e -> e.stage() == s && e.tpRank() == 0)
                    .map(StageEvent::size).toList();
            assertEquals(SCHEDULE, ran, "stage " + stage + " ran the schedule's chunks in order");
        }
    }

    @Test
    void aScheduleForAnotherPromptLengthIsRefused() {
        ModelConfig c = ModelDirectory.open(MODEL).config();
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new PipelineSpec(
                MODEL.toString(), Topology.of(c, 2, 1, null), 64, false, 0.75, null, 1, Duration.ofSeconds(30),
                List.of(new PipelineSpec.Request(PROMPT, 5)), List.of(128, 128)));
        assertTrue(e.getMessage().contains("covers 256 tokens") && e.getMessage().contains("has 333"), e.getMessage());
        var round = JobCodec.decode(JobCodec.encode(new PipelineSpec(MODEL.toString(), Topology.of(c, 2, 1, null), 64,
                false, 0.75, null, 1, Duration.ofSeconds(30), List.of(new PipelineSpec.Request(PROMPT, 5)), SCHEDULE)));
        assertEquals(SCHEDULE, round.chunkSchedule(), "worker processes receive the schedule with the job");
    }

    @Test
    void queuedRequestsEachGetTheirOwnAnswer() {
        ModelConfig c = ModelDirectory.open(MODEL).config();
        int[] other = new SplittableRandom(77).ints(150, 0, 512).toArray();
        PipelineSpec spec = new PipelineSpec(MODEL.toString(), Topology.of(c, 2, 2, null), 64, false, 0.75, null, 1,
                Duration.ofSeconds(30), List.of(new PipelineSpec.Request(PROMPT, 5), new PipelineSpec.Request(other, 3)));
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec);
        assertArrayEquals(reference().generated(), r.result(0).generated());
        PrefillResult otherRef = TestModels.prefill(MODEL, other, other.length, 3, 1);
        assertTrue(TestModels.relativeError(r.result(1).lastLogits(), otherRef.lastLogits()) <= TOLERANCE);
        assertArrayEquals(otherRef.generated(), r.result(1).generated());
    }

    @Test
    void explicitPartitionAndProfiledChunking() {
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec(3, 1, true, null, 128, "1,1,2"));
        assertArrayEquals(reference().generated(), r.result(0).generated());
        ChunkingDecision d = r.chunking();
        assertTrue(d.dynamicRequested());
        // the profile really ran; the fit is used, or the run says why not
        assertEquals(5, d.profileLengths().length);
        assertTrue(d.dynamicUsed() || d.fallbackReason() != null);
        if (!d.dynamicUsed()) {
            assertTrue(d.fallbackReason().contains("fixed chunks used"), d.fallbackReason());
        }
        assertNotNull(r.timeline().prefill(0));
        assertEquals(3, r.timeline().stageUtilization(0).length);
    }
}
