package io.pipefill.worker.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Gathers what the ranks report into a {@link PipelineResult}. Thread-safe. */
final class Collector implements PipelineSink {
    private final PipelineSpec spec;
    private final Map<Integer, Long> weights = new TreeMap<>();
    private final Map<Integer, Long> kv = new TreeMap<>();
    private final List<RequestResult> results = new ArrayList<>();
    private final List<StageEvent> events = new ArrayList<>();
    private final java.util.Set<Integer> reported = new java.util.HashSet<>();
    private ChunkingDecision chunking;

    Collector(PipelineSpec spec) {
        this.spec = spec;
    }

    @Override
    public synchronized void loaded(int rank, long weightBytes, long kvCacheBytes) {
        weights.put(rank, weightBytes);
        kv.put(rank, kvCacheBytes);
    }

    @Override
    public synchronized void chunking(ChunkingDecision decision) {
        chunking = decision;
    }

    @Override
    public synchronized void result(RequestResult result) {
        results.add(result);
    }

    @Override
    public synchronized void timeline(int rank, List<StageEvent> rankEvents) {
        events.addAll(rankEvents);
        reported.add(rank);
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
