package io.pipefill.worker.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.backends.Backends;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.worker.TestModels;
import io.pipefill.model.ModelDirectory;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Real worker processes over real sockets: parity, overlap of sends with compute, and a killed worker. */
class ProcessPipelineTest {
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    private static PipelineSpec spec(int pp, int tp, int[] prompt, int chunk, int maxNew) {
        ModelConfig c = ModelDirectory.open(InProcessPipelineTest.MODEL).config();
        return new PipelineSpec(InProcessPipelineTest.MODEL.toString(), Topology.of(c, pp, tp, null), chunk, false, 0.75,
                null, 1, Duration.ofSeconds(30), List.of(new PipelineSpec.Request(prompt, maxNew)));
    }

    @Test
    void twoStagesTwoTensorRanksMatchTheReferenceAndOverlapSends() throws Exception {
        PipelineResult r = new ProcessPipeline(Backends.Kind.cpu, QUIET, Duration.ofSeconds(60))
                .run(spec(2, 2, InProcessPipelineTest.PROMPT, 48, 5));
        RequestResult res = r.result(0);
        double err = TestModels.relativeError(res.lastLogits(), InProcessPipelineTest.reference().lastLogits());
        assertTrue(err <= InProcessPipelineTest.TOLERANCE, "relative error " + err);
        assertArrayEquals(InProcessPipelineTest.reference().generated(), res.generated());
        assertEquals(4, r.weightBytesPerRank().size());

        // stage 0 starts computing chunk c+1 before the send of chunk c has completed, at least once
        List<StageEvent> s0 = r.timeline().prefill(0).stream().filter(e -> e.stage() == 0).toList();
        long overlapping = 0;
        for (int i = 0; i + 1 < s0.size(); i++) {
            StageEvent c = s0.get(i);
            assertTrue(c.sendDoneMs() >= c.sendPostedMs(), "send completes after it is posted: " + c);
            if (s0.get(i + 1).computeStartMs() < c.sendDoneMs()) {
                overlapping++;
            }
        }
        assertTrue(overlapping > 0, "no chunk computed while its predecessor's send was in flight: " + s0);
        assertTrue(r.timeline().bubbleRatio(0) >= 0 && r.timeline().bubbleRatio(0) < 1);
    }

    @Test
    void dynamicChunkingIsAgreedAcrossProcesses() throws Exception {
        ModelConfig c = ModelDirectory.open(InProcessPipelineTest.MODEL).config();
        PipelineSpec spec = new PipelineSpec(InProcessPipelineTest.MODEL.toString(), Topology.of(c, 2, 1, null), 100, true,
                0.75, InProcessPipelineTest.FIT, 1, Duration.ofSeconds(30),
                List.of(new PipelineSpec.Request(InProcessPipelineTest.PROMPT, 2)));
        PipelineResult r = new ProcessPipeline(Backends.Kind.cpu, QUIET, Duration.ofSeconds(60)).run(spec);
        assertTrue(r.chunking().dynamicUsed());
        List<Integer> stage0 = r.timeline().prefill(0).stream().filter(e -> e.stage() == 0).map(StageEvent::size).toList();
        List<Integer> stage1 = r.timeline().prefill(0).stream().filter(e -> e.stage() == 1).map(StageEvent::size).toList();
        assertEquals(stage0, stage1, "every stage derives the same chunks");
        assertEquals(100, stage0.get(0));
        assertTrue(stage0.get(1) < 100);
        assertEquals(InProcessPipelineTest.reference().generated()[0], r.result(0).generated()[0]);
    }

    @Test
    void killingAWorkerEndsTheRunNamingItAndLeavesNoProcess() throws Exception {
        int[] prompt = new SplittableRandom(9).ints(6000, 0, 512).toArray();
        CountDownLatch started = new CountDownLatch(1);
        PrintStream progress = new PrintStream(new OutputStream() {
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    if (line.toString().contains("chunk 3/")) {
                        started.countDown();
                    }
                    line.setLength(0);
                } else {
                    line.append((char) b);
                }
            }
        }, true, StandardCharsets.UTF_8);
        ProcessPipeline pipeline = new ProcessPipeline(Backends.Kind.cpu, progress, Duration.ofSeconds(60));
        CompletableFuture<PipelineResult> run = CompletableFuture.supplyAsync(() -> {
            try {
                return pipeline.run(spec(2, 1, prompt, 32, 1));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(started.await(60, TimeUnit.SECONDS), "the prefill never got going");
        ProcessHandle victim = ProcessHandle.current().descendants()
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains("--rank 1")).orElse(false))
                .findFirst().orElseThrow();
        long killedAt = System.nanoTime();
        victim.destroyForcibly();
        ExecutionException e = assertThrows(ExecutionException.class, () -> run.get(30, TimeUnit.SECONDS));
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        String message = e.getCause().getMessage();
        assertTrue(message.contains("rank 1 (stage 1, tp 0)") && message.contains("lost"), message);
        assertTrue(seconds < 30, "took " + seconds + " s");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (ProcessHandle.current().descendants().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(List.of(), ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList(), "left behind");
    }

    @Test
    void aTopologyThatDoesNotFitIsRefused() {
        ModelConfig c = ModelDirectory.open(InProcessPipelineTest.MODEL).config();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Topology.of(c, 2, 3, null)).getMessage()
                .contains("--tp 3 must divide the attention heads (4)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Topology.of(c, 2, 1, "1,2")).getMessage()
                .contains("sums to 3 but the model has 4 layers"));
        assertTrue(Arrays.stream(Topology.of(c, 3, 1, null).partition().layersPerStage()).sum() == 4);
    }
}
