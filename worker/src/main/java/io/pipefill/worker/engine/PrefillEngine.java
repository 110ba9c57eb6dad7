package io.pipefill.worker.engine;

import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Single-process chunked prefill and greedy decode over one stage that holds the whole model. The chunk
 * loop is the same one the pipeline runs per stage: embed, forward with the KV cache, and logits only for
 * the last position.
 */
public final class PrefillEngine {
    private final ModelConfig config;
    private final Stage stage;

    public PrefillEngine(ModelConfig config, Stage stage) {
        this.config = config;
        this.stage = stage;
    }

    public PrefillResult run(PrefillRequest request, ProgressListener progress) {
        int[] prompt = request.promptTokens();
        StageChecks.tokensInVocabulary(prompt, 0, prompt.length, config.vocabSize());
        ChunkSchedule schedule = ChunkSchedule.fixed(prompt.length, Math.min(request.chunkSize(), prompt.length));
        stage.resetCache();
        List<PrefillResult.ChunkTiming> timings = new ArrayList<>();
        float[] lastLogits;
        long start = System.nanoTime();
        try (Activations x = stage.allocate(schedule.maxChunkSize())) {
            for (Chunk c : schedule.chunks()) {
                long t0 = System.nanoTime();
                stage.embed(prompt, c.offset(), c.size(), x);
                stage.forward(x, c.offset(), c.size());
                double ms = (System.nanoTime() - t0) / 1e6;
                timings.add(new PrefillResult.ChunkTiming(c.offset(), c.size(), ms));
                progress.chunkDone(c.index(), schedule.size(), c.end(), prompt.length, ms);
            }
            Chunk last = schedule.chunks().get(schedule.size() - 1);
            lastLogits = stage.logits(x, last.size() - 1);
        }
        double ttftMs = (System.nanoTime() - start) / 1e6;
        double flops = config.layerFlops(0, prompt.length) + config.headFlops(1);

        int[] generated = new int[request.maxNewTokens()];
        long decodeStart = System.nanoTime();
        if (generated.length > 0) {
            generated[0] = Sampling.argmax(lastLogits);
            progress.tokenGenerated(0, generated[0]);
            try (Activations x = stage.allocate(1)) {
                for (int i = 1; i < generated.length; i++) {
                    int position = prompt.length + i - 1;
                    stage.embed(new int[] {generated[i - 1]}, 0, 1, x);
                    stage.forward(x, position, 1);
                    generated[i] = Sampling.argmax(stage.logits(x, 0));
                    progress.tokenGenerated(i, generated[i]);
                }
            }
        }
        double decodeMs = (System.nanoTime() - decodeStart) / 1e6;
        return new PrefillResult(prompt.length, timings, ttftMs, lastLogits, generated, decodeMs, flops);
    }
}
