package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.e2e.support.Api;
import io.pipefill.e2e.support.ControlPlane;
import io.pipefill.e2e.support.Reference;
import io.pipefill.e2e.support.TcpProxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The link between two stages through a TCP proxy in the test: each worker's data port listens on a fixed port
 * ({@code --data-port}) and is advertised at the proxy ({@code --data-advertise}), so every activation between the
 * ranks crosses it. Slowed, the run still completes with the single-process engine's tokens; cut in the middle of a
 * prefill, the run fails within the peer timeout naming both ranks, the workers stay usable, and the next run over
 * the restored link succeeds.
 */
class LinkFaultTest {
    static final int PEER_TIMEOUT_S = 10;

    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void aSlowedLinkCompletesCorrectlyAndACutLinkFailsTheRunNamingBothRanks() throws Exception {
        try (ControlPlane cp = ControlPlane.start("LinkFaultTest", tmp.resolve("cp"), Map.of("PIPEFILL_PEER_TIMEOUT", PEER_TIMEOUT_S + "s"));
             TcpProxy toFirst = new TcpProxy(ControlPlane.freePort(), new InetSocketAddress("127.0.0.1", ControlPlane.freePort()));
             TcpProxy toSecond = new TcpProxy(ControlPlane.freePort(), new InetSocketAddress("127.0.0.1", ControlPlane.freePort()))) {
            cp.startWorker("n1", "--data-port", String.valueOf(toFirst.targetPort()), "--data-advertise", "127.0.0.1:" + toFirst.port());
            cp.startWorker("n2", "--data-port", String.valueOf(toSecond.targetPort()), "--data-advertise", "127.0.0.1:" + toSecond.port());
            Api api = cp.api();
            cp.createModel("tiny", "--preset", "tiny", "--seed", "11");
            api.awaitWorkers("IDLE", 2, Duration.ofMinutes(2));
            cp.deploy(Map.of("name", "tiny-pp2", "model", "tiny", "pp", 2, "chunkSize", 64, "maxTokens", 8192));
            int vocab = (Integer) api.getOk("/api/v1/models/tiny").get("vocabSize");
            int[] prompt = new SplittableRandom(12).ints(1000, 0, vocab).toArray();
            Reference ref = Reference.of(cp.dataDir().resolve("models/tiny"), prompt, 4, tmp.resolve("ref"));

            // slowed: every 16 KiB block held 20 ms in both directions; slower, and still exact
            toFirst.slow(20);
            toSecond.slow(20);
            long t0 = System.nanoTime();
            String slowed = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2",
                    "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", 4), 201).get("id");
            Map<String, Object> run = api.awaitEnd(slowed, Duration.ofMinutes(2));
            assertThat(run.get("state")).as("%s", run.get("error")).isEqualTo("SUCCEEDED");
            assertThat((List<Integer>) run.get("generated")).containsExactlyElementsOf(ref.generated());
            assertThat(toFirst.forwarded() + toSecond.forwarded()).as("the activations went through the proxies")
                    .isGreaterThan(1000L * 4 * 64);
            System.out.printf("slowed link: run took %.1f s%n", (System.nanoTime() - t0) / 1e9);

            // cut in the middle of a prefill
            toFirst.restore();
            toSecond.restore();
            String doomed = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2", "randomTokens", 8000,
                    "maxNewTokens", 2), 201).get("id");
            api.await("/api/v1/runs/" + doomed, m -> {
                Map<String, Object> p = (Map<String, Object>) m.get("progress");
                return p != null && (Integer) p.get("chunksDone") >= 2;
            }, Duration.ofMinutes(1), "prefill under way");
            toFirst.cut();
            toSecond.cut();
            long cutAt = System.nanoTime();
            Map<String, Object> failed = api.awaitEnd(doomed, Duration.ofSeconds(PEER_TIMEOUT_S + 30));
            double seconds = (System.nanoTime() - cutAt) / 1e9;
            assertThat(failed.get("state")).isEqualTo("FAILED");
            assertThat(seconds).as("failed within the peer timeout (plus reporting)").isLessThan(PEER_TIMEOUT_S + 5);
            String error = (String) failed.get("error");
            assertThat(error).as("the error names both ends of the link").contains("rank 0").contains("rank 1");

            // the workers are fine: the link is back, and the next run is exact
            toFirst.restore();
            toSecond.restore();
            api.await("/api/v1/deployments/tiny-pp2", m -> "READY".equals(m.get("state")), Duration.ofSeconds(30), "READY");
            String again = (String) api.post("/api/v1/runs", Map.of("deployment", "tiny-pp2",
                    "tokenIds", Arrays.stream(prompt).boxed().toList(), "maxNewTokens", 4), 201).get("id");
            Map<String, Object> ok = api.awaitEnd(again, Duration.ofMinutes(1));
            assertThat(ok.get("state")).as("%s", ok.get("error")).isEqualTo("SUCCEEDED");
            assertThat((List<Integer>) ok.get("generated")).containsExactlyElementsOf(ref.generated());
        }
    }
}
