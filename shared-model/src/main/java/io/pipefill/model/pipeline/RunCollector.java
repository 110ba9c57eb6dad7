package io.pipefill.model.pipeline;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Gathers one run's rank reports, whoever drives the run: the chunking rank 0 agreed on, each request's
 * result, every rank's timeline and shard sizes, and which ranks are done. The one collector of the in-process
 * and worker-process pipelines and of the control plane's runs. Progress and failures are the driver's to act
 * on as they arrive; this keeps what the outcome is made of. Thread-safe.
 */
public final class RunCollector {
    private final int world;
    private final int requests;
    private final Map<Integer, Long> weightBytes = new TreeMap<>();
    private final Map<Integer, Long> kvBytes = new TreeMap<>();
    private final List<RequestResult> results = new ArrayList<>();
    private final List<StageEvent> events = new ArrayList<>();
    private final Set<Integer> timelines = new HashSet<>();
    private final Set<Integer> done = new HashSet<>();
    private ChunkingDecision chunking;

    /** What a finished run gathered: results ordered by request, events in arrival order. */
    public record Gathered(ChunkingDecision chunking, List<RequestResult> results, Map<Integer, Long> weightBytesPerRank,
                           Map<Integer, Long> kvBytesPerRank, List<StageEvent> events) {

        public RequestResult result(int request) {
            return results.stream().filter(r -> r.request() == request).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no result for request " + request));
        }
    }

    /** {@code world} ranks, {@code requests} prompts in the run. */
    public RunCollector(int world, int requests) {
        if (world < 1 || requests < 1) {
            throw new IllegalArgumentException("a run has at least one rank and one request, got " + world + " and " + requests);
        }
        this.world = world;
        this.requests = requests;
    }

    /** Keeps what the outcome needs from one report; {@link RankReport.Progress} and {@link RankReport.Failed} are not kept. */
    public synchronized void accept(RankReport report) {
        if (report instanceof RankReport.Loaded l) {
            weightBytes.put(l.rank(), l.weightBytes());
            kvBytes.put(l.rank(), l.kvBytes());
        } else if (report instanceof ChunkingDecision d) {
            chunking = d;
        } else if (report instanceof RequestResult r) {
            results.add(r);
        } else if (report instanceof RankReport.RankTimeline t) {
            events.addAll(t.events());
            timelines.add(t.rank());
        } else if (report instanceof RankReport.Done d) {
            done.add(d.rank());
        }
    }

    /** Every rank said it is done (ranks driven through a channel end with {@link RankReport.Done}). */
    public synchronized boolean allDone() {
        return done.size() == world;
    }

    /**
     * The outcome once every result and every rank's timeline are in; otherwise fails saying what is missing
     * (the chunking of rank 0, the last stage's results, the ranks whose timeline never came).
     */
    public synchronized Gathered finish() {
        if (results.size() < requests) {
            throw new IllegalStateException("the run ended with " + results.size() + " of " + requests
                    + " results: the result report of the last stage (rank " + (world - 1) + ") never arrived");
        }
        if (chunking == null) {
            throw new IllegalStateException("rank 0 never reported the chunking decision");
        }
        if (timelines.size() < world) {
            throw new IllegalStateException("the run ended with " + timelines.size() + " of " + world + " timelines");
        }
        List<RequestResult> ordered = new ArrayList<>(results);
        ordered.sort(Comparator.comparingInt(RequestResult::request));
        return new Gathered(chunking, List.copyOf(ordered), Map.copyOf(weightBytes), Map.copyOf(kvBytes), List.copyOf(events));
    }
}
