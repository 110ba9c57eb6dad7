package io.pipefill.worker.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.StageShard;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The single-process prefill is the one-stage pipeline: dynamic chunking works on it (from a given fit or
 * from a profile of the stage), its chunks are the policy's, and the numbers equal fixed chunks' within the
 * chunked-prefill tolerance (chunk boundaries only reorder float sums).
 */
class SingleProcessPrefillTest {
    private final Path model = TestModels.committed("tiny-llama");
    private final int[] prompt = new SplittableRandom(5).ints(700, 0, 512).toArray();

    @Test
    void dynamicChunksFromAGivenFitShrinkAndAgreeWithFixedChunks() {
        LatencyFit fit = new LatencyFit(2e-4, 0.01, 0.5);
        PrefillRequest dynamic = new PrefillRequest(prompt, 256, 4, true, 0.5, fit);
        PrefillResult fixed = run(new PrefillRequest(prompt, 256, 4), new ArrayList<>());
        List<int[]> progress = new ArrayList<>();
        PrefillResult r = run(dynamic, progress);

        assertTrue(r.chunking().dynamicUsed(), "the given fit is used: " + r.chunking());
        List<Integer> expected = ChunkingPolicy.schedule(r.chunking(), prompt.length).chunks().stream()
                .map(c -> c.size()).toList();
        assertEquals(expected, r.chunks().stream().map(PrefillResult.ChunkTiming::size).toList());
        assertTrue(expected.get(expected.size() - 1) < expected.get(0), "later chunks shrink: " + expected);
        assertEquals(expected.size(), progress.size(), "one progress call per chunk");
        assertEquals(prompt.length, progress.get(progress.size() - 1)[0]);
        assertTrue(TestModels.relativeError(r.lastLogits(), fixed.lastLogits()) <= 1e-4);
        assertArrayEquals(fixed.generated(), r.generated());
        assertEquals(4, r.generated().length);
        assertTrue(r.ttftMs() > 0 && r.decodeMs() >= 0 && r.chunks().stream().allMatch(c -> c.ms() >= 0));
    }

    @Test
    void dynamicChunkingProfilesTheStageWhenNoFitIsGiven() {
        PrefillRequest dynamic = new PrefillRequest(prompt, 128, 1, true, 0.75, null);
        assertEquals(700, dynamic.kvCapacity(), "the prompt is longer than the 1.25 × base profile");
        PrefillRequest shortPrompt = new PrefillRequest(new int[] {1, 2, 3}, 128, 1, true, 0.75, null);
        assertEquals(ChunkingPolicy.maxProfileLength(128), shortPrompt.kvCapacity(), "the profile needs its positions");
        PrefillResult r = run(dynamic, new ArrayList<>());
        assertTrue(r.chunking().dynamicRequested());
        assertNotNull(r.chunking().profileLengths(), "stage 0 was profiled");
        assertEquals(prompt.length, r.chunks().stream().mapToInt(PrefillResult.ChunkTiming::size).sum());
        PrefillResult fixed = run(new PrefillRequest(prompt, 128, 1), new ArrayList<>());
        assertFalse(fixed.chunking().dynamicRequested());
        assertTrue(TestModels.relativeError(r.lastLogits(), fixed.lastLogits()) <= 1e-4);
    }

    @Test
    void aTokenOutsideTheVocabularyIsRefusedBeforeAnyChunkRuns() {
        int[] bad = prompt.clone();
        bad[650] = 512;
        List<int[]> progress = new ArrayList<>();
        var e = assertThrows(IllegalArgumentException.class, () -> run(new PrefillRequest(bad, 64, 1), progress));
        assertTrue(e.getMessage().contains("token id 512 at prompt position 650"), e.getMessage());
        assertTrue(progress.isEmpty(), "no chunk ran");
    }

    /**
     * The stage is told the run's chunks before the first of them (so the CUDA stage builds its cuDNN plans outside
     * the TTFT), and they are exactly the chunks it then runs: fixed, from a given fit, and an explicit schedule.
     */
    @Test
    void theStageIsPreparedForExactlyTheChunksItThenRuns() {
        LatencyFit fit = new LatencyFit(2e-4, 0.01, 0.5);
        for (PrefillRequest request : List.of(new PrefillRequest(prompt, 256, 2),
                new PrefillRequest(prompt, 256, 2, true, 0.5, fit),
                new PrefillRequest(prompt, 64, 2, false, 0, null, List.of(300, 200, 150, 50)))) {
            List<String> calls = new ArrayList<>();
            run(request, new ArrayList<>(), stage -> new Recording(stage, calls));
            assertTrue(calls.get(0).startsWith("prepare "), "prepared before any chunk: " + calls);
            assertEquals(1, calls.stream().filter(c -> c.startsWith("prepare ")).count(), "once per run: " + calls);
            String chunksRun = calls.stream().skip(1).filter(c -> !c.startsWith("forward " + prompt.length)
                    && !c.startsWith("forward " + (prompt.length + 1))).map(c -> c.substring("forward ".length()))
                    .reduce((a, b) -> a + " " + b).orElse("");
            assertEquals("prepare [" + chunksRun + "]", calls.get(0), "the prepared chunks are those forwarded");
        }
    }

    /** A real stage that notes the chunks (offset+size) it is prepared for and forwards. */
    private record Recording(Stage stage, List<String> calls) implements Stage {
        @Override
        public void prepare(List<ChunkSchedule> schedules) {
            calls.add("prepare " + schedules.stream().map(s -> s.chunks().stream().map(c -> c.offset() + "+" + c.size())
                    .reduce((a, b) -> a + " " + b).orElse("")).toList());
            stage.prepare(schedules);
        }

        @Override
        public void forward(Activations x, int position, int n) {
            calls.add("forward " + position + "+" + n);
            stage.forward(x, position, n);
        }

        @Override
        public Activations allocate(int maxTokens) {
            return stage.allocate(maxTokens);
        }

        @Override
        public void embed(int[] tokens, int from, int n, Activations out) {
            stage.embed(tokens, from, n, out);
        }

        @Override
        public float[] logits(Activations x, int row) {
            return stage.logits(x, row);
        }

        @Override
        public void resetCache() {
            stage.resetCache();
        }

        @Override
        public io.pipefill.worker.engine.AttentionUsage.Report attentionUsage() {
            return stage.attentionUsage();
        }

        @Override
        public int cachedPositions() {
            return stage.cachedPositions();
        }

        @Override
        public long weightBytes() {
            return stage.weightBytes();
        }

        @Override
        public long kvCacheBytes() {
            return stage.kvCacheBytes();
        }

        @Override
        public void close() {
            stage.close();
        }
    }

    private PrefillResult run(PrefillRequest request, List<int[]> progress) {
        return run(request, progress, stage -> stage);
    }

    private PrefillResult run(PrefillRequest request, List<int[]> progress, UnaryOperator<Stage> wrap) {
        ModelDirectory md = ModelDirectory.open(model);
        try (CpuBackend backend = new CpuBackend(2); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = wrap.apply(backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, request.kvCapacity()))) {
            return new SingleProcessPrefill(md.config(), stage).run(request, new ProgressListener() {
                @Override
                public void chunkDone(int index, int chunks, int done, int total, double ms) {
                    progress.add(new int[] {done, total});
                }
            });
        }
    }
}
