package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.RunReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** How a run in progress takes its ranks' reports: checks, duplicates, completion, and closing. */
class ActiveRunTest {
    private final ActiveRun run = new ActiveRun(UUID.randomUUID(), List.of(worker(), worker()), JsonMapper.builder().build());

    private static Worker worker() {
        return new Worker(UUID.randomUUID(), UUID.randomUUID(), "cpu", "http://127.0.0.1:1", null, null, null, null, null);
    }

    private static RunReport report(int rank, long seq, String type, Map<String, Object> body) {
        return new RunReport("w" + rank, rank, seq, type, body);
    }

    @Test
    void checkNamesTheBadRankOrType() {
        assertThatThrownBy(() -> run.check(report(2, 0, "done", null))).hasMessageContaining("rank: 2").hasMessageContaining("0..1");
        assertThatThrownBy(() -> run.check(report(-1, 0, "done", null))).hasMessageContaining("rank: -1");
        assertThatThrownBy(() -> run.check(report(0, 0, "finished", null))).hasMessageContaining("type: 'finished'")
                .hasMessageContaining("chunking, progress, result, timeline, done, error");
    }

    @Test
    void completesWhenEveryRankIsDoneAndTheResultArrivedDroppingDuplicates() throws Exception {
        assertThat(run.apply(report(0, 0, "done", null))).isTrue();
        assertThat(run.apply(report(0, 0, "done", null))).as("a retried report").isFalse();
        assertThat(run.outcome).isNotDone();
        assertThat(run.apply(report(1, 0, "result", Map.of("request", 0, "lastLogits", List.of(0.5, -1.0),
                "generated", List.of(7, 8), "ttftMs", 12.5, "endMs", 20.0)))).isTrue();
        assertThat(run.outcome).isNotDone();
        assertThat(run.apply(report(1, 1, "done", null))).isTrue();
        ActiveRun.Gathered g = run.outcome.get(1, TimeUnit.SECONDS);
        assertThat(g.result().generated()).containsExactly(7, 8);
        assertThat(g.result().lastLogits()).containsExactly(0.5f, -1.0f);
    }

    @Test
    void aCancellationStopsARunInProgressButNotOneWhoseOutcomeIsIn() {
        run.cancel();
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(ActiveRun.Cancelled.class).hasMessageContaining("cancelled while RUNNING");

        ActiveRun finished = new ActiveRun(UUID.randomUUID(), List.of(worker()), JsonMapper.builder().build());
        finished.apply(report(0, 0, "result", Map.of("request", 0, "lastLogits", List.of(1.0), "generated", List.of(3),
                "ttftMs", 1.0, "endMs", 2.0)));
        finished.apply(report(0, 1, "done", null));
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
        run.apply(report(0, 0, "done", null));
        run.apply(report(1, 0, "done", null));
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("result report of the last stage (rank 1) never arrived");
    }

    @Test
    void anErrorReportFailsTheRunNamingItsRank() {
        run.apply(report(1, 3, "error", Map.of("message", "peer rank 0 closed the socket")));
        assertThatThrownBy(() -> run.outcome.get(1, TimeUnit.SECONDS)).hasCauseInstanceOf(ActiveRun.RankFailed.class)
                .hasMessageContaining("peer rank 0 closed the socket");
    }

    /** The final write waits for a batch being recorded, so the final state is the run's last event. */
    @Test
    void closingWaitsForTheBatchBeingRecordedAndRefusesLaterOnes() throws Exception {
        List<String> writes = new ArrayList<>();
        CountDownLatch recording = new CountDownLatch(1);
        Thread batch = new Thread(() -> run.applyAndRecord(List.of(report(0, 0, "progress", Map.of())), fresh -> {
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
        assertThat(run.applyAndRecord(List.of(report(0, 1, "done", null)), fresh -> writes.add("late"))).isFalse();
        assertThat(writes).containsExactly("batch of 1", "final");
    }

    @Test
    void aBatchWithABadReportAppliesNoneAndARetriedBatchRecordsOnlyWhatIsNew() {
        List<List<RunReport>> recorded = new ArrayList<>();
        assertThatThrownBy(() -> run.applyAndRecord(List.of(report(0, 0, "done", null), report(5, 0, "done", null)),
                recorded::add)).hasMessageContaining("rank: 5");
        assertThat(recorded).isEmpty();
        assertThat(run.applyAndRecord(List.of(report(0, 0, "progress", Map.of())), recorded::add)).isTrue();
        assertThat(run.applyAndRecord(List.of(report(0, 0, "progress", Map.of()), report(0, 1, "done", null)),
                recorded::add)).isTrue();
        assertThat(recorded).extracting(b -> b.stream().map(RunReport::seq).toList())
                .containsExactly(List.of(0L), List.of(1L));
        assertThat(run.applyAndRecord(List.of(report(0, 1, "done", null)), recorded::add)).as("all duplicates").isTrue();
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
