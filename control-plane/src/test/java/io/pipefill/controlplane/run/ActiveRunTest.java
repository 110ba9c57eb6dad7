package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.RunReport;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RunCollector;
import io.pipefill.model.pipeline.RequestResult;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How a run in progress takes its ranks' reports: checks, duplicates, completion, and closing. */
class ActiveRunTest {
    private final ActiveRun run = new ActiveRun(UUID.randomUUID(), List.of(worker(), worker()));

    private static Worker worker() {
        return new Worker(UUID.randomUUID(), UUID.randomUUID(), "cpu", "http://127.0.0.1:1", null, null, null, null, null);
    }

    private RunReport report(int rank, long seq, RankReport report) {
        // sent by the worker placed at that rank (a rank outside the run has none)
        String sender = rank >= 0 && rank < run.workers.size() ? run.workers.get(rank).id().toString() : "w" + rank;
        return new RunReport(sender, rank, seq, report);
    }

    private RunReport done(int rank, long seq) {
        return report(rank, seq, new RankReport.Done(rank));
    }

    private RunReport progress(int rank, long seq) {
        return report(rank, seq, new RankReport.Progress(0, 0, 1, 64, 64));
    }

    private RunReport chunking(long seq) {
        return report(0, seq, new ChunkingDecision(false, 64, 0, null, null, null, null, 0));
    }

    private RunReport timeline(int rank, long seq) {
        return report(rank, seq, new RankReport.RankTimeline(rank, List.of()));
    }

    @Test
    void checkNamesTheBadRank() {
        assertThatThrownBy(() -> run.check(done(2, 0))).hasMessageContaining("rank: 2").hasMessageContaining("0..1");
        assertThatThrownBy(() -> run.check(done(-1, 0))).hasMessageContaining("rank: -1");
    }

    @Test
    void aReportFromAnotherWorkerThanTheRanksIsRefusedAndNothingOfItsBatchApplies() {
        String rank1sWorker = run.workers.get(1).id().toString();
        RunReport forged = new RunReport(rank1sWorker, 0, 0, new RankReport.Done(0));
        assertThatThrownBy(() -> run.check(forged)).isInstanceOf(ActiveRun.NotTheRanksWorker.class)
                .hasMessageContaining("rank 0 of run " + run.runId + " is worker " + run.workers.get(0).id())
                .hasMessageContaining("worker " + rank1sWorker + " may not report for it");
        List<List<RunReport>> recorded = new ArrayList<>();
        assertThatThrownBy(() -> run.applyAndRecord(List.of(done(1, 0), forged), recorded::add))
                .isInstanceOf(ActiveRun.NotTheRanksWorker.class);
        assertThat(recorded).isEmpty();
        assertThat(run.apply(done(1, 0))).as("the batch's good report was not applied either").isTrue();
    }

    @Test
    void completesWhenEveryRankIsDoneAndTheResultArrivedDroppingDuplicates() throws Exception {
        assertThat(run.apply(chunking(0))).isTrue();
        assertThat(run.apply(timeline(0, 1))).isTrue();
        assertThat(run.apply(done(0, 2))).isTrue();
        assertThat(run.apply(done(0, 2))).as("a retried report").isFalse();
        assertThat(run.outcome).isNotDone();
        assertThat(run.apply(report(1, 0,
                new RequestResult(0, new float[] {0.5f, -1.0f}, new int[] {7, 8}, 12.5, 20.0)))).isTrue();
        assertThat(run.apply(timeline(1, 1))).isTrue();
        assertThat(run.outcome).isNotDone();
        assertThat(run.apply(done(1, 2))).isTrue();
        RunCollector.Gathered g = run.outcome.get(1, TimeUnit.SECONDS);
        assertThat(g.result(0).generated()).containsExactly(7, 8);
        assertThat(g.result(0).lastLogits()).containsExactly(0.5f, -1.0f);
        assertThat(g.chunking().base()).isEqualTo(64);
    }

    @Test
    void aCancellationStopsARunInProgressButNotOneWhoseOutcomeIsIn() {
        run.cancel();
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(ActiveRun.Cancelled.class).hasMessageContaining("cancelled while RUNNING");

        ActiveRun finished = new ActiveRun(UUID.randomUUID(), List.of(worker()));
        finished.apply(chunking(0));
        finished.apply(report(0, 1, new RequestResult(0, new float[] {1.0f}, new int[] {3}, 1.0, 2.0)));
        finished.apply(timeline(0, 2));
        finished.apply(done(0, 3));
        finished.cancel();
        assertThat(finished.outcome).isCompleted();
    }

    @Test
    void theEndIsSignalledAfterTheFinalWriteEvenWhenItFails() {
        assertThat(run.ended).isNotDone();
        assertThatThrownBy(() -> run.close(() -> {
            throw new IllegalStateException("database away");
        })).hasMessage("database away");
        assertThat(run.ended).isCompleted();
    }

    @Test
    void everyRankDoneWithoutAResultFailsNamingTheLastStage() {
        run.apply(done(0, 0));
        run.apply(done(1, 0));
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("result report of the last stage (rank 1) never arrived");
    }

    @Test
    void anErrorReportFailsTheRunNamingItsRank() {
        run.apply(report(1, 3, new RankReport.Failed(1, "peer rank 0 closed the socket")));
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).hasCauseInstanceOf(ActiveRun.RankFailed.class)
                .hasMessageContaining("peer rank 0 closed the socket");
    }

    /** The final write waits for a batch being recorded, so the final state is the run's last event. */
    @Test
    void closingWaitsForTheBatchBeingRecordedAndRefusesLaterOnes() throws Exception {
        List<String> writes = new ArrayList<>();
        CountDownLatch recording = new CountDownLatch(1);
        Thread batch = new Thread(() -> run.applyAndRecord(List.of(progress(0, 0)), fresh -> {
            recording.countDown();
            sleep(200);
            synchronized (writes) {
                writes.add("batch of " + fresh.size());
            }
        }));
        batch.start();
        recording.await();
        run.close(() -> {
            synchronized (writes) {
                writes.add("final");
            }
        });
        batch.join();
        assertThat(writes).containsExactly("batch of 1", "final");
        assertThat(run.applyAndRecord(List.of(done(0, 1)), fresh -> writes.add("late"))).isFalse();
        assertThat(writes).containsExactly("batch of 1", "final");
    }

    @Test
    void aBatchWithABadReportAppliesNoneAndARetriedBatchRecordsOnlyWhatIsNew() {
        List<List<RunReport>> recorded = new ArrayList<>();
        assertThatThrownBy(() -> run.applyAndRecord(List.of(done(0, 0), done(5, 0)),
                recorded::add)).hasMessageContaining("rank: 5");
        assertThat(recorded).isEmpty();
        assertThat(run.applyAndRecord(List.of(progress(0, 0)), recorded::add)).isTrue();
        assertThat(run.applyAndRecord(List.of(progress(0, 0), done(0, 1)),
                recorded::add)).isTrue();
        assertThat(recorded).extracting(b -> b.stream().map(RunReport::seq).toList())
                .containsExactly(List.of(0L), List.of(1L));
        assertThat(run.applyAndRecord(List.of(done(0, 1)), recorded::add)).as("all duplicates").isTrue();
        assertThat(recorded).hasSize(2);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
