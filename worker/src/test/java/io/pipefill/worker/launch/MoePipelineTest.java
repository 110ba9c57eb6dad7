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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The mixture-of-experts families through every PP × TP layout, fixed and dynamic chunks: the single-process
 * unchunked logits (max |Δ| / max |logit| ≤ 1e-4) and greedy tokens. Qwen3-MoE's three layers are sparse, dense,
 * sparse and DeepSeek-V3's dense, sparse, sparse, so the stages of PP 2 and 3 start on either kind; TP 2 splits
 * every expert's width and, for DeepSeek, the latent attention's heads (each rank keeping the whole latent).
 */
class MoePipelineTest {
    static final double TOLERANCE = 1e-4;
    static final int[] PROMPT = new SplittableRandom(9).ints(257, 0, 512).toArray();
    static final java.util.Map<String, PrefillResult> REFERENCES = new java.util.concurrent.ConcurrentHashMap<>();

    static PrefillResult reference(Path model) {
        return REFERENCES.computeIfAbsent(model.toString(), m -> TestModels.prefill(model, PROMPT, PROMPT.length, 4, 1));
    }

    @ParameterizedTest(name = "{0} pp={1} tp={2} dynamic={3}")
    @CsvSource({"tiny-qwen3-moe,1,1,false", "tiny-qwen3-moe,2,1,false", "tiny-qwen3-moe,3,1,false",
                "tiny-qwen3-moe,1,2,false", "tiny-qwen3-moe,2,2,false", "tiny-qwen3-moe,3,2,false",
                "tiny-qwen3-moe,1,1,true", "tiny-qwen3-moe,3,1,true", "tiny-qwen3-moe,2,2,true", "tiny-qwen3-moe,3,2,true",
                "tiny-deepseek-v3,1,1,false", "tiny-deepseek-v3,2,1,false", "tiny-deepseek-v3,3,1,false",
                "tiny-deepseek-v3,1,2,false", "tiny-deepseek-v3,2,2,false", "tiny-deepseek-v3,3,2,false",
                "tiny-deepseek-v3,1,1,true", "tiny-deepseek-v3,3,1,true", "tiny-deepseek-v3,2,2,true",
                "tiny-deepseek-v3,3,2,true"})
    void layoutsMatchTheSingleProcessReference(String name, int pp, int tp, boolean dynamic) {
        Path model = TestModels.committed(name);
        PrefillResult reference = reference(model);
        ModelConfig c = ModelDirectory.open(model).config();
        PipelineSpec spec = new PipelineSpec(model.toString(), Topology.of(c, pp, tp, null), 96, dynamic, 0.75,
                dynamic ? InProcessPipelineTest.FIT : null, 1, Duration.ofSeconds(30),
                List.of(new PipelineSpec.Request(PROMPT, 4)));
        PipelineResult r = new InProcessPipeline(Backends.Kind.cpu).run(spec);
        double err = TestModels.relativeError(r.result(0).lastLogits(), reference.lastLogits());
        assertTrue(err <= TOLERANCE, "relative error " + err);
        assertArrayEquals(reference.generated(), r.result(0).generated());
        assertEquals(dynamic, r.chunking().dynamicUsed());
        // together the ranks hold one copy of the experts: no rank holds them all
        long whole = CpuBackend.weightBytes(c, StageShard.whole(c));
        long max = r.weightBytesPerRank().values().stream().mapToLong(Long::longValue).max().orElseThrow();
        if (pp * tp > 1) {
            assertTrue(max < whole * 0.85, "largest rank holds " + max + " of " + whole + " bytes");
        }
    }

    /** Worker processes over real sockets, on the FP8 checkpoints: each rank dequantises only its slice. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tiny-qwen3-moe-fp8", "tiny-deepseek-v3-fp8"})
    void fp8WorkerProcessesMatchOneProcess(String name) throws Exception {
        Path fp8 = TestModels.committed(name);
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
