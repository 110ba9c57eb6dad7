package io.pipefill.worker.pipeline;

import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Gathers what the ranks report into a {@link PipelineResult}. Thread-safe. */
final class Collector implements PipelineSink {
    private final PipelineSpec spec;
    private final Map<Integer, Long> weights = new TreeMap<>();
    private final Map<Integer, Long> kv = new TreeMap<>();
    private final List<RequestResult> results = new ArrayList<>();
    private final List<StageEvent> events = new ArrayList<>();
    private final Set<Integer> reported = new HashSet<>();
    private ChunkingDecision chunking;

    Collector(PipelineSpec spec) {
        this.spec = spec;
    }

    /** Keeps what a result needs; progress, done and failures are the driver's to act on. */
    @Override
    public synchronized void report(RankReport report) {
        if (report instanceof RankReport.Loaded l) {
            weights.put(l.rank(), l.weightBytes());
            kv.put(l.rank(), l.kvBytes());
        } else if (report instanceof ChunkingDecision d) {
            chunking = d;
        } else if (report instanceof RequestResult r) {
            results.add(r);
        } else if (report instanceof RankReport.RankTimeline t) {
            events.addAll(t.events());
            reported.add(t.rank());
        }
    }

    synchronized boolean complete() {
        return reported.size() == spec.topology().worldSize() && results.size() == spec.requests().size();
    }

    synchronized PipelineResult finish() {
        if (chunking == null) {
            throw new IllegalStateException("rank 0 never reported the chunking decision");
        }
        if (!complete()) {
            throw new IllegalStateException("the run ended with " + results.size() + " of " + spec.requests().size()
                    + " results and " + reported.size() + " of " + spec.topology().worldSize() + " timelines");
        }
        return new PipelineResult(spec, chunking, List.copyOf(results), Map.copyOf(weights), Map.copyOf(kv),
                List.copyOf(events));
    }
}
