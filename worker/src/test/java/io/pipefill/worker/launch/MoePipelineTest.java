package io.pipefill.worker.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.StageShard;
import io.pipefill.model.Topology;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineSpec;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Qwen3-MoE through every PP × TP layout, fixed and dynamic chunks: the single-process unchunked logits
 * (max |Δ| / max |logit| ≤ 1e-4) and greedy tokens. Its three layers are sparse, dense, sparse, so the stages
 * of PP 2 and 3 each start on a different kind, and TP 2 splits every expert's width.
 */
class MoePipelineTest {
    static final double TOLERANCE = 1e-4;
    static final Path MODEL = TestModels.committed("tiny-qwen3-moe");
    static final int[] PROMPT = new SplittableRandom(9).ints(257, 0, 512).toArray();
    static PrefillResult reference;

    static synchronized PrefillResult reference() {
        if (reference == null) {
            reference = TestModels.prefill(MODEL, PROMPT, PROMPT.length, 4, 1);
        }
        return reference;
    }

    @ParameterizedTest(name = "pp={0} tp={1} dynamic={2}")
    @CsvSource({"1,1,false", "2,1,false", "3,1,false", "1,2,false", "2,2,false", "3,2,false",
                "1,1,true", "3,1,true", "2,2,true", "3,2,true"})
    void layoutsMatchTheSingleProcessReference(int pp, int tp, boolean dynamic) {
        ModelConfig c = ModelDirectory.open(MODEL).config();
        PipelineSpec spec = new PipelineSpec(MODEL.toString(), Topology.of(c, pp, tp, null), 96, dynamic, 0.75,
                dynamic ? InProcessPipelineTest.FIT : null, 1, Duration.ofSeconds(30),
                List.of(new PipelineSpec.Request(PROMPT, 4)));
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec);
        double err = TestModels.relativeError(r.result(0).lastLogits(), reference().lastLogits());
        assertTrue(err <= TOLERANCE, "relative error " + err);
        assertArrayEquals(reference().generated(), r.result(0).generated());
        assertEquals(dynamic, r.chunking().dynamicUsed());
        // together the ranks hold one copy of the experts: no rank holds them all
        long whole = CpuBackend.weightBytes(c, StageShard.whole(c));
        long max = r.weightBytesPerRank().values().stream().mapToLong(Long::longValue).max().orElseThrow();
        if (pp * tp > 1) {
            assertTrue(max < whole * 0.8, "largest rank holds " + max + " of " + whole + " bytes");
        }
    }

    /** Worker processes over real sockets, on the FP8 checkpoint: each rank dequantises only its slice. */
    @Test
    void fp8WorkerProcessesMatchOneProcess() throws Exception {
        Path fp8 = TestModels.committed("tiny-qwen3-moe-fp8");
        ModelConfig c = ModelDirectory.open(fp8).config();
        PrefillResult one = TestModels.prefill(fp8, PROMPT, PROMPT.length, 3, 1);
        PipelineSpec spec = new PipelineSpec(fp8.toString(), Topology.of(c, 2, 2, null), 64, false, 0.75, null, 1,
                Duration.ofSeconds(30), List.of(new PipelineSpec.Request(PROMPT, 3)));
        PipelineResult r = new ProcessPipeline(Backends.Kind.cpu, new PrintStream(OutputStream.nullOutputStream()),
                Duration.ofSeconds(60)).run(spec);
        double err = TestModels.relativeError(r.result(0).lastLogits(), one.lastLogits());
        assertTrue(err <= TOLERANCE, "relative error " + err);
        assertArrayEquals(one.generated(), r.result(0).generated());
    }
}
