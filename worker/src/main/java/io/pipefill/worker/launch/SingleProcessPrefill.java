package io.pipefill.worker.launch;

import io.pipefill.model.LayerPartition;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.worker.comm.InProcessTransport;
import io.pipefill.worker.comm.Transport;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.engine.StageChecks;
import io.pipefill.worker.pipeline.PipelineSink;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.pipeline.RunClock;
import io.pipefill.worker.pipeline.StageWorker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The single-process prefill: a one-stage pipeline (pp 1 × tp 1) on a stage its caller loaded, run by the same
 * {@link StageWorker} loop as every pipeline rank, so that fixed and dynamic chunking, the decode loop and the
 * timeline are the pipeline's. The stage is the caller's (it may come from a model directory or from random
 * weights) and serves one request after another; it must be loaded with {@link PrefillRequest#kvCapacity}.
 */
public final class SingleProcessPrefill {
    /** Nothing waits on a peer in a one-rank world; a bound all the same, as every wait has one. */
    private static final Duration NO_PEERS = Duration.ofMinutes(1);

    private final ModelConfig config;
    private final Stage stage;

    public SingleProcessPrefill(ModelConfig config, Stage stage) {
        this.config = config;
        this.stage = stage;
    }

    public PrefillResult run(PrefillRequest request, ProgressListener progress) {
        int[] prompt = request.promptTokens();
        // before any state changes, as the pipeline's coordinators check a run's requests up front
        StageChecks.tokensInVocabulary(prompt, 0, prompt.length, config.vocabSize());
        Topology one = new Topology(1, 1, LayerPartition.even(config.numLayers(), 1));
        PipelineSpec spec = new PipelineSpec("", one, request.chunkSize(), request.dynamic(), request.sigma(),
                request.givenFit(), 1, NO_PEERS, List.of(new PipelineSpec.Request(prompt, request.maxNewTokens())),
                request.chunkSchedule());
        Collected sink = new Collected(progress);
        try (Transport alone = new InProcessTransport.Fabric(1, NO_PEERS).endpoint(0)) {
            new StageWorker(alone, spec, sink, () -> sink.started(new RunClock(RunClock.nowMicros()))).runOn(stage, config);
        }
        RequestResult r = sink.result;
        List<PrefillResult.ChunkTiming> chunks = new ArrayList<>();
        for (StageEvent e : sink.events) {
            if (!e.decode()) {
                // the chunk's whole time on the stage: the embedding (between start and compute) and the layers
                chunks.add(new PrefillResult.ChunkTiming(e.offset(), e.size(), e.computeStartMs() + e.computeMs() - e.startMs()));
            }
        }
        double flops = config.layerFlops(0, prompt.length) + config.headFlops(1);
        return new PrefillResult(prompt.length, chunks, r.ttftMs(), r.lastLogits(), r.generated(), r.endMs() - r.ttftMs(),
                flops, sink.decision);
    }

    /** The one rank's reports, gathered; each chunk through the stage is passed on to the progress listener. */
    private static final class Collected implements PipelineSink {
        private final ProgressListener progress;
        private ChunkingDecision decision;
        private RequestResult result;
        private List<StageEvent> events = List.of();
        private long lastNanos;

        Collected(ProgressListener progress) {
            this.progress = progress;
        }

        RunClock started(RunClock clock) {
            lastNanos = System.nanoTime();
            return clock;
        }

        @Override
        public void report(RankReport report) {
            if (report instanceof ChunkingDecision d) {
                decision = d;
            } else if (report instanceof RankReport.Progress p) {
                long now = System.nanoTime();
                progress.chunkDone(p.chunk(), p.chunks(), p.done(), p.total(), (now - lastNanos) / 1e6);
                lastNanos = now;
            } else if (report instanceof RequestResult r) {
                result = r;
            } else if (report instanceof RankReport.RankTimeline t) {
                events = t.events();
            }
        }
    }
}
