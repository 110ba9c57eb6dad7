package io.pipefill.worker.engine;

import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.launch.SingleProcessPrefill;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.StageShard;
import io.pipefill.worker.TestModels;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Chunked prefill must equal unchunked prefill: max |Δ| / max |logit| ≤ 1e-4 and the same greedy tokens. */
class ChunkedPrefillTest {
    static final double TOLERANCE = 1e-4;
    private final Path model = TestModels.committed("tiny-llama");
    private final int[] prompt = new SplittableRandom(11).ints(613, 0, 512).toArray();

    @Test
    void chunkSizesThatDoAndDoNotDivideThePromptAgree() {
        PrefillResult whole = TestModels.prefill(model, prompt, prompt.length, 6, 1);
        assertEquals(1, whole.chunks().size());
        for (int chunk : new int[] {1, 7, 128, 255, 256, 300, 612}) {
            for (int threads : new int[] {1, 2}) {
                PrefillResult r = TestModels.prefill(model, prompt, chunk, 6, threads);
                assertEquals((prompt.length + chunk - 1) / chunk, r.chunks().size());
                double err = TestModels.relativeError(r.lastLogits(), whole.lastLogits());
                assertTrue(err <= TOLERANCE, "chunk " + chunk + ", " + threads + " threads: relative error " + err);
                assertArrayEquals(whole.generated(), r.generated(), "chunk " + chunk + " greedy tokens");
            }
        }
    }

    @Test
    void aStageCanServeConsecutiveRequests() {
        ModelDirectory md = ModelDirectory.open(model);
        try (CpuBackend backend = new CpuBackend(2); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, 700)) {
            SingleProcessPrefill engine = new SingleProcessPrefill(md.config(), stage);
            PrefillResult first = engine.run(new PrefillRequest(prompt, 100, 3), ProgressListener.NONE);
            PrefillResult second = engine.run(new PrefillRequest(prompt, 50, 3), ProgressListener.NONE);
            assertTrue(TestModels.relativeError(second.lastLogits(), first.lastLogits()) <= TOLERANCE);
            assertArrayEquals(first.generated(), second.generated());
        }
    }

    @Test
    void outOfOrderChunksAndOverflowAreRefused() {
        ModelDirectory md = ModelDirectory.open(model);
        try (CpuBackend backend = new CpuBackend(1); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, 16);
             Activations x = stage.allocate(16)) {
            stage.embed(prompt, 0, 8, x);
            var skip = assertThrows(IllegalStateException.class, () -> stage.forward(x, 4, 8));
            assertTrue(skip.getMessage().contains("chunks must arrive in order"), skip.getMessage());
            stage.forward(x, 0, 8);
            var full = assertThrows(IllegalStateException.class, () -> stage.forward(x, 8, 9));
            assertTrue(full.getMessage().contains("exceed the KV cache capacity 16"), full.getMessage());
            var badToken = assertThrows(IllegalArgumentException.class, () -> stage.embed(new int[] {512}, 0, 1, x));
            assertTrue(badToken.getMessage().contains("outside the vocabulary [0, 512)"), badToken.getMessage());
        }
    }
}
