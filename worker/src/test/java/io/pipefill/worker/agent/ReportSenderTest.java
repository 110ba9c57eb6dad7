package io.pipefill.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pipefill.model.agent.WorkerRegistration;
import java.util.List;
import java.util.Map;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What a rank's report sender does with the control plane's answers: retry, give up, stop. */
class ReportSenderTest {
    private final FakeControlPlane cp;
    private final ReportSender sender;

    ReportSenderTest() throws Exception {
        cp = new FakeControlPlane("join");
        ControlPlaneClient client = new ControlPlaneClient(cp.url(), "join", "agent-token-of-the-report-sender-test");
        // reports carry the worker's own credential, which a registration brings
        client.register(new WorkerRegistration("n", "127.0.0.1", 1, 1, List.of(), Map.of(), "cpu", "http://127.0.0.1:1", null));
        sender = new ReportSender(client, "run-1", () -> "w1", 1);
    }

    @AfterEach
    void close() {
        cp.close();
    }

    private List<String> recorded() {
        return cp.snapshot(cp.reports, r -> true).stream().map(r -> r.path("type").asText() + "#" + r.path("seq").asLong()).toList();
    }

    private void awaitPosts(int n) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 5_000;
        while (cp.reportPosts.get() < n) {
            assertTrue(System.currentTimeMillis() < deadline, "post " + n + " within 5 s");
            Thread.sleep(5);
        }
    }

    @Test
    void unavailableAnswersAreRetriedAndTheReportsArriveInOrder() throws Exception {
        cp.reportAnswers.addAll(List.of(503, 503));
        sender.report(new ChunkingDecision(false, 64, 0, null, null, null, null, 0));
        awaitPosts(3);
        sender.report(new RankReport.Done(1));
        sender.finish();
        assertTrue(sender.awaitDrained(10_000), "the sender finished");
        assertEquals(List.of("chunking#0", "done#1"), recorded());
        JsonNode first = cp.snapshot(cp.reports, r -> true).get(0);
        assertEquals("w1", first.path("workerId").asText());
        assertEquals(1, first.path("rank").asInt());
    }

    @Test
    void aRefusedReportIsNotRetriedAndLaterReportsStillGo() throws Exception {
        cp.reportAnswers.add(400);
        sender.report(new ChunkingDecision(false, 64, 0, null, null, null, null, 0));
        awaitPosts(1);
        sender.report(new RankReport.Done(1));
        sender.finish();
        assertTrue(sender.awaitDrained(5_000), "the sender finished");
        assertEquals(2, cp.reportPosts.get(), "report posts");
        assertEquals(List.of("done#1"), recorded());
    }

    /** 10 retries with backoff would hold the sender for ~15 s on an answer that cannot change. */
    @Test
    void onceTheRunIsOverNothingMoreIsPosted() throws Exception {
        cp.reportAnswers.add(409);
        sender.report(new RankReport.Failed(1, "lost rank 0"));
        awaitPosts(1);
        sender.report(new RankReport.RankTimeline(1, List.of()));
        sender.report(new RankReport.Done(1));
        sender.finish();
        assertTrue(sender.awaitDrained(2_000), "the sender finished");
        assertEquals(1, cp.reportPosts.get(), "report posts");
        assertEquals(List.of(), recorded());
    }
}
