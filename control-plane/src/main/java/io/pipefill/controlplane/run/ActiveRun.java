package io.pipefill.controlplane.run;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.RunReport;
import io.pipefill.worker.pipeline.ChunkingDecision;
import io.pipefill.worker.pipeline.RequestResult;
import io.pipefill.worker.pipeline.StageEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import tools.jackson.databind.json.JsonMapper;

/**
 * The in-memory side of a run in progress: gathers the ranks' reports (dropping retried duplicates by
 * rank and sequence number) and completes when every rank is done and the result arrived, or fails on the
 * first error report.
 */
final class ActiveRun {
    /** A rank reported an error; the executor names the worker behind it. */
    static final class RankFailed extends RuntimeException {
        final int rank;

        RankFailed(int rank, String message) {
            super(message);
            this.rank = rank;
        }
    }

    record Gathered(ChunkingDecision chunking, RequestResult result, List<StageEvent> events) {
    }

    final UUID runId;
    /** The worker of each rank (index = rank). */
    final List<Worker> workers;
    private final int world;
    private final JsonMapper json;
    private final Map<Integer, Long> lastSeq = new HashMap<>();
    private final Set<Integer> done = new HashSet<>();
    private final List<StageEvent> events = new ArrayList<>();
    private ChunkingDecision chunking;
    private RequestResult result;
    final CompletableFuture<Gathered> outcome = new CompletableFuture<>();

    ActiveRun(UUID runId, List<Worker> workers, JsonMapper json) {
        this.runId = runId;
        this.workers = List.copyOf(workers);
        this.world = workers.size();
        this.json = json;
    }

    /** Applies one report; false when it is a duplicate (already applied) and must not be recorded again. */
    synchronized boolean apply(RunReport r) {
        if (r.rank() < 0 || r.rank() >= world) {
            throw new IllegalArgumentException("rank: " + r.rank() + " is not a rank of this run (0.." + (world - 1) + ")");
        }
        Long last = lastSeq.get(r.rank());
        if (last != null && r.seq() <= last) {
            return false;
        }
        lastSeq.put(r.rank(), r.seq());
        Map<String, Object> body = r.body() == null ? Map.of() : r.body();
        switch (r.type()) {
            case "chunking" -> chunking = json.convertValue(body, ChunkingDecision.class);
            case "result" -> result = json.convertValue(body, RequestResult.class);
            case "timeline" -> events.addAll(List.of(json.convertValue(body.get("events"), StageEvent[].class)));
            case "done" -> done.add(r.rank());
            case "error" -> outcome.completeExceptionally(new RankFailed(r.rank(), String.valueOf(body.get("message"))));
            case "progress", "loaded" -> { }
            default -> throw new IllegalArgumentException("type: '" + r.type()
                    + "' is not a report type (chunking, progress, result, timeline, done, error)");
        }
        if (done.size() == world && result != null && !outcome.isDone()) {
            outcome.complete(new Gathered(chunking, result, List.copyOf(events)));
        }
        return true;
    }

    void fail(RuntimeException e) {
        outcome.completeExceptionally(e);
    }
}
