package io.pipefill.worker.pipeline;

import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.RunCollector;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.pipeline.Timeline;
import java.util.List;
import java.util.Map;

/** Everything the ranks reported for one pipeline run; the timeline's figures come from {@link Timeline}. */
public record PipelineResult(PipelineSpec spec, ChunkingDecision chunking, List<RequestResult> results,
                             Map<Integer, Long> weightBytesPerRank, Map<Integer, Long> kvBytesPerRank,
                             List<StageEvent> events) {

    /** What the ranks reported, as the run's collector gathered it. */
    public static PipelineResult of(PipelineSpec spec, RunCollector.Gathered g) {
        return new PipelineResult(spec, g.chunking(), g.results(), g.weightBytesPerRank(), g.kvBytesPerRank(), g.events());
    }

    public RequestResult result(int request) {
        return results.stream().filter(r -> r.request() == request).findFirst()
                .orElseThrow(() -> new IllegalStateException("no result for request " + request));
    }

    public Timeline timeline() {
        return new Timeline(spec.topology().pp(), events);
    }
}
