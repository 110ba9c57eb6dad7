package io.pipefill.worker.agent;

import io.pipefill.model.agent.RunReport;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.worker.pipeline.PipelineSink;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Supplier;

/**
 * Posts one rank's reports of one run to the control plane, in order, from a thread of its own: the stage
 * loop only enqueues, so a slow or absent control plane never stalls the pipeline. {@code seq} counts from
 * 0. A failed post is retried with backoff; progress reports are best effort, the others (chunking, result,
 * timeline, done, error) are tried much longer, and a report given up on is logged, never dropped silently.
 * A refusal (a 4xx answer) is not retried; once the control plane says the run is over (404, 409) the
 * rank's later reports of it are not posted either, only counted in one log line.
 */
final class ReportSender implements PipelineSink {
    private static final int PROGRESS_ATTEMPTS = 3;
    private static final int ATTEMPTS = 10;
    private static final long MAX_BACKOFF_MS = 3_000;
    private static final int MAX_BATCH = 64;
    private static final RunReport END = new RunReport(null, -1, -1, null);

    private final ControlPlaneClient client;
    private final String runId;
    private final Supplier<String> workerId;
    private final int rank;
    private final LinkedBlockingQueue<RunReport> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private long seq;
    /** Why the control plane no longer takes this run's reports; null while it does. Sender thread only. */
    private String runOver;
    private int droppedAfterRunOver;

    ReportSender(ControlPlaneClient client, String runId, Supplier<String> workerId, int rank) {
        this.client = client;
        this.runId = runId;
        this.workerId = workerId;
        this.rank = rank;
        this.thread = new Thread(this::drain, "reports-" + runId + "-rank-" + rank);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues a report. {@link RankReport.Loaded} is not posted: an agent loads its shard once per deployment,
     * and its status carries the sizes.
     */
    @Override
    public synchronized void report(RankReport report) {
        if (!(report instanceof RankReport.Loaded)) {
            queue.add(new RunReport(workerId.get(), rank, seq++, report));
        }
    }

    /** No more reports: the thread ends once the queued ones are posted (or given up on). */
    void finish() {
        queue.add(END);
    }

    /** Waits for the queued reports to be posted; for tests and shutdown. */
    boolean awaitDrained(long millis) throws InterruptedException {
        thread.join(millis);
        return !thread.isAlive();
    }

    private void drain() {
        try {
            while (true) {
                // whatever queued up while the last post was in flight goes out as one batch: after the last
                // chunk, the result, the timeline and done are queued together and take one round trip
                List<RunReport> batch = new ArrayList<>();
                batch.add(queue.take());
                queue.drainTo(batch, MAX_BATCH - 1);
                int end = batch.indexOf(END);
                if (end >= 0) {
                    if (end > 0) {
                        post(batch.subList(0, end));
                    }
                    if (droppedAfterRunOver > 0) {
                        System.err.println("pipefill agent: " + droppedAfterRunOver + " later report(s) of run " + runId
                                + " not posted: " + runOver);
                    }
                    return;
                }
                post(batch);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void post(List<RunReport> batch) throws InterruptedException {
        if (runOver != null) {
            droppedAfterRunOver += batch.size();
            return;
        }
        // progress alone is worth a few tries; a batch that carries anything else is worth many
        boolean progressOnly = batch.stream().allMatch(r -> r.report() instanceof RankReport.Progress);
        int attempts = progressOnly ? PROGRESS_ATTEMPTS : ATTEMPTS;
        String what = batch.size() == 1 ? "the " + batch.get(0).report().kind() + " report (seq " + batch.get(0).seq() + ")"
                : batch.size() + " reports (seq " + batch.get(0).seq() + ".." + batch.get(batch.size() - 1).seq() + ")";
        long backoff = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                client.report(runId, batch);
                return;
            } catch (ControlPlaneClient.ReportRefused e) {
                System.err.println("pipefill agent: the control plane refused " + what + " of run " + runId
                        + " (not retried): " + e.getMessage());
                if (e.runIsOver()) {
                    runOver = "the control plane answered " + e.status + " (the run is unknown or over)";
                }
                return;
            } catch (IOException e) {
                if (attempt >= attempts) {
                    System.err.println("pipefill agent: gave up on " + what + " of run " + runId + " after " + attempts
                            + " attempts: " + describe(e));
                    return;
                }
                System.err.println("pipefill agent: posting " + what + " of run " + runId + " failed (attempt " + attempt
                        + " of " + attempts + "): " + describe(e));
                Thread.sleep(backoff);
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            }
        }
    }

    /** The first message along the cause chain (the JDK's HTTP client often throws one without a message). */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t == e ? t.getMessage() : e.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        if (e instanceof java.net.ConnectException) {
            return "could not connect (connection refused or host unreachable)";
        }
        return e.getClass().getSimpleName();
    }
}
