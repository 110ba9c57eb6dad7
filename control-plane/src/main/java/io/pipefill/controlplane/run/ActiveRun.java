package io.pipefill.controlplane.run;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.RunReport;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RunCollector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ResponseStatusException;

/**
 * The in-memory side of a run in progress: gathers the ranks' reports (dropping retried duplicates by
 * rank and sequence number) and completes when every rank is done and the result arrived, or fails on the
 * first error report.
 *
 * <p>Its monitor orders the run's event records: a batch of reports is applied and recorded while holding
 * it, and the run's final state is written while holding it and closes the run to later reports. So the
 * final STATE event is the run's last, where event streams stop, and events commit in id order, which is
 * how pollers page through them.
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

    /** The run was cancelled through the API; the executor aborts the ranks and records CANCELLED. */
    static final class Cancelled extends RuntimeException {
        Cancelled(String message) {
            super(message);
        }
    }


    final UUID runId;
    /** The worker of each rank (index = rank). */
    final List<Worker> workers;
    private final int world;
    private final Map<Integer, Long> lastSeq = new HashMap<>();
    private final RunCollector collector;
    private boolean closed;
    /** The gathered reports of the run's one request once every rank is done. */
    final CompletableFuture<RunCollector.Gathered> outcome = new CompletableFuture<>();
    /** Completes once the run's final state is written. */
    final CompletableFuture<Void> ended = new CompletableFuture<>();

    ActiveRun(UUID runId, List<Worker> workers) {
        this.runId = runId;
        this.workers = List.copyOf(workers);
        this.world = workers.size();
        this.collector = new RunCollector(world, 1);
    }

    /** A report came from a worker that does not hold its rank in this run; answered with 403, nothing applied. */
    static final class NotTheRanksWorker extends ResponseStatusException {
        NotTheRanksWorker(String message) {
            super(HttpStatus.FORBIDDEN, message);
        }
    }

    /**
     * Rejects a report this run cannot take, before any report of its batch is applied: a rank outside the run,
     * or a sender ({@code workerId}, set from the credential it authenticated with) that is not the worker placed
     * at that rank. So a worker speaks for its own rank only, and a forged batch changes nothing.
     */
    void check(RunReport r) {
        if (r.rank() < 0 || r.rank() >= world) {
            throw new IllegalArgumentException("rank: " + r.rank() + " is not a rank of this run (0.." + (world - 1) + ")");
        }
        UUID placed = workers.get(r.rank()).id();
        if (r.workerId() == null || !placed.toString().equals(r.workerId())) {
            throw new NotTheRanksWorker("rank " + r.rank() + " of run " + runId + " is worker " + placed
                    + "'s; worker " + r.workerId() + " may not report for it");
        }
    }

    /**
     * Applies a rank's batch of reports (each checked first: a bad one applies none) and hands the ones not
     * seen before to {@code record}, all under this run's monitor. False, applying nothing, once closed.
     */
    synchronized boolean applyAndRecord(List<RunReport> reports, Consumer<List<RunReport>> record) {
        if (closed) {
            return false;
        }
        reports.forEach(this::check);
        List<RunReport> fresh = new ArrayList<>();
        for (RunReport r : reports) {
            if (apply(r)) {
                fresh.add(r);
            }
        }
        if (!fresh.isEmpty()) {
            record.accept(fresh);
        }
        return true;
    }

    /** Applies one checked report; false when it is a duplicate (already applied) and must not be recorded again. */
    synchronized boolean apply(RunReport r) {
        Long last = lastSeq.get(r.rank());
        if (last != null && r.seq() <= last) {
            return false;
        }
        lastSeq.put(r.rank(), r.seq());
        RankReport report = r.report();
        collector.accept(report);
        if (report instanceof RankReport.Failed f) {
            outcome.completeExceptionally(new RankFailed(r.rank(), f.message()));
        }
        if (collector.allDone() && !outcome.isDone()) {
            // every rank finished: the outcome, or (a report never arrived) no point waiting for it
            try {
                outcome.complete(collector.finish());
            } catch (IllegalStateException e) {
                outcome.completeExceptionally(e);
            }
        }
        return true;
    }

    void fail(RuntimeException e) {
        outcome.completeExceptionally(e);
    }

    /** Asks the executor to stop the run; no effect once the ranks' outcome is in (the run then ends as it came). */
    void cancel() {
        outcome.completeExceptionally(new Cancelled("cancelled while RUNNING"));
    }

    /** Writes the run's final state after every batch recorded so far, and refuses batches from then on. */
    synchronized void close(Runnable finalWrite) {
        closed = true;
        try {
            finalWrite.run();
        } finally {
            ended.complete(null);
        }
    }
}
