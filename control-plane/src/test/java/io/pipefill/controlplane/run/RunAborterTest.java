package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.pipefill.controlplane.agent.AgentClient;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * The abort and the wait for workers to let go of a run, against agents on real sockets that hold the run for a
 * set time after the abort (the real agent's unwinding takes milliseconds and cannot be stretched on cue).
 */
class RunAborterTest {
    private static final String RUN = "run-1";
    private final List<HttpServer> servers = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(s -> s.stop(0));
    }

    /** An agent that holds {@link #RUN} until {@code holdMillis} after its abort (forever when negative). */
    private final class SlowAgent {
        final List<String> aborts = new CopyOnWriteArrayList<>();
        final String url;
        private volatile long releasedAt = Long.MAX_VALUE;

        SlowAgent(long holdMillis, int abortStatus) throws IOException {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/agent/status", ex -> {
                boolean holds = System.nanoTime() < releasedAt;
                answer(ex, 200, "{\"workerId\":\"w\",\"state\":\"" + (holds ? "RUNNING" : "READY") + "\",\"deploymentId\":null,"
                        + "\"rank\":0,\"runId\":" + (holds ? "\"" + RUN + "\"" : "null") + ",\"error\":null,"
                        + "\"weightBytes\":1,\"kvCacheBytes\":1}");
            });
            server.createContext("/agent/runs", ex -> {
                aborts.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath());
                if (holdMillis >= 0 && releasedAt == Long.MAX_VALUE) {
                    releasedAt = System.nanoTime() + holdMillis * 1_000_000;
                }
                answer(ex, abortStatus, "{}");
            });
            server.start();
            servers.add(server);
            url = "http://127.0.0.1:" + server.getAddress().getPort();
        }

        private static void answer(com.sun.net.httpserver.HttpExchange ex, int status, String json) throws IOException {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        }
    }

    private static Worker worker(String url) {
        return new Worker(UUID.randomUUID(), UUID.randomUUID(), "cpu", url, null, WorkerState.RUNNING, null, Instant.now(),
                Instant.now());
    }

    private static RunAborter aborter(Duration bound) {
        AgentClient agents = new AgentClient(WebClient.builder(), CircuitBreakerRegistry.ofDefaults(),
                RetryRegistry.ofDefaults(), Duration.ofMillis(500),
                w -> java.util.Optional.of("agent-token"), new io.pipefill.controlplane.cluster.AgentUrlPolicy(true));
        return new RunAborter(agents, bound);
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void everyWorkerIsAbortedEvenWhenOneHadAlreadyLetGo() throws Exception {
        SlowAgent gone = new SlowAgent(0, 404);
        SlowAgent holding = new SlowAgent(0, 200);
        aborter(Duration.ofSeconds(5)).abort(List.of(worker(gone.url), worker(holding.url)), RUN);
        assertThat(gone.aborts).containsExactly("DELETE /agent/runs/" + RUN);
        assertThat(holding.aborts).containsExactly("DELETE /agent/runs/" + RUN);
    }

    @Test
    void theWaitLastsUntilTheSlowestWorkerLetsGo() throws Exception {
        SlowAgent quick = new SlowAgent(0, 200);
        SlowAgent slow = new SlowAgent(800, 200);
        List<Worker> workers = List.of(worker(quick.url), worker(slow.url));
        RunAborter aborter = aborter(Duration.ofSeconds(10));
        long t0 = System.nanoTime();
        aborter.abort(workers, RUN);
        assertThat(aborter.awaitReleased(workers, RUN)).isTrue();
        double ms = (System.nanoTime() - t0) / 1e6;
        assertThat(ms).as("waited for the slow worker's 800 ms").isGreaterThanOrEqualTo(750).isLessThan(5_000);
    }

    @Test
    void aWorkerThatNoLongerAnswersIsNotWaitedFor() throws Exception {
        SlowAgent quick = new SlowAgent(0, 200);
        List<Worker> workers = List.of(worker("http://127.0.0.1:" + closedPort()), worker(quick.url));
        RunAborter aborter = aborter(Duration.ofSeconds(30));
        aborter.abort(workers, RUN);
        long t0 = System.nanoTime();
        assertThat(aborter.awaitReleased(workers, RUN)).isTrue();
        assertThat((System.nanoTime() - t0) / 1e9).as("no wait on a dead worker").isLessThan(5);
    }

    @Test
    void aWorkerThatNeverLetsGoEndsTheWaitAtTheBound() throws Exception {
        SlowAgent stuck = new SlowAgent(-1, 200);
        List<Worker> workers = List.of(worker(stuck.url));
        RunAborter aborter = aborter(Duration.ofSeconds(1));
        aborter.abort(workers, RUN);
        long t0 = System.nanoTime();
        assertThat(aborter.awaitReleased(workers, RUN)).isFalse();
        double s = (System.nanoTime() - t0) / 1e9;
        assertThat(s).isGreaterThanOrEqualTo(1).isLessThan(5);
    }
}
