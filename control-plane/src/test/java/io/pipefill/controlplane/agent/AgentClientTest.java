package io.pipefill.controlplane.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.model.agent.RunStart;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.web.reactive.function.client.WebClient;

/** The Resilience4j guards around calls to a worker agent, against real sockets. */
class AgentClientTest {
    private static Worker worker(String url) {
        return new Worker(UUID.randomUUID(), UUID.randomUUID(), "cpu", url, null, WorkerState.READY, null, Instant.now(), Instant.now());
    }

    private static AgentClient client(CircuitBreakerRegistry breakers) {
        return new AgentClient(WebClient.builder(), breakers, RetryRegistry.ofDefaults(), Duration.ofMillis(500),
                w -> java.util.Optional.of("agent-token"), new io.pipefill.controlplane.cluster.AgentUrlPolicy(true));
    }

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void aDeadWorkerTripsItsOwnBreakerAndThenFailsFast() throws Exception {
        CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                .slidingWindowSize(4).minimumNumberOfCalls(4).failureRateThreshold(50).waitDurationInOpenState(Duration.ofMinutes(1)).build());
        AgentClient agents = client(breakers);
        Worker dead = worker("http://127.0.0.1:" + closedPort());
        for (int i = 0; i < 4; i++) {
            assertThatThrownBy(() -> agents.status(dead).block()).isInstanceOf(AgentCallException.class)
                    .hasMessageContaining("worker " + dead.id()).hasMessageContaining("status failed");
        }
        assertThat(agents.breaker(dead).getState()).isEqualTo(CircuitBreaker.State.OPEN);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> agents.status(dead).block()).isInstanceOf(AgentCallException.class)
                .hasMessageContaining("CircuitBreaker 'worker-" + dead.id() + "' is OPEN");
        assertThat((System.nanoTime() - t0) / 1e6).as("an open breaker answers without calling").isLessThan(200);
        // another worker's breaker is its own
        assertThat(agents.breaker(worker("http://127.0.0.1:1")).getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void idempotentCallsAreRetriedStartIsNotAndClientErrorsAreNeither() throws Exception {
        AtomicInteger statusCalls = new AtomicInteger();
        AtomicInteger startCalls = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/agent/status", ex -> {
            // fails twice with 503, then answers
            int n = statusCalls.incrementAndGet();
            byte[] body = n < 3 ? new byte[0] : ("{\"workerId\":\"w\",\"state\":\"READY\",\"deploymentId\":null,\"rank\":null,"
                    + "\"runId\":null,\"error\":null,\"weightBytes\":1,\"kvCacheBytes\":2}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(n < 3 ? 503 : 200, body.length == 0 ? -1 : body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.createContext("/agent/runs", ex -> {
            startCalls.incrementAndGet();
            byte[] body = "{\"title\":\"Conflict\",\"status\":409,\"detail\":\"run r is not open\"}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(ex.getRequestURI().getPath().endsWith("/start") ? 409 : 503, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            AgentClient agents = client(CircuitBreakerRegistry.ofDefaults());
            Worker w = worker("http://127.0.0.1:" + server.getAddress().getPort());
            assertThat(agents.status(w).block().weightBytes()).isEqualTo(1);
            assertThat(statusCalls.get()).as("two 503s retried").isEqualTo(3);
            RunStart start = new RunStart("r", new int[] {1}, 1, 64, false, 0, List.of(), 1000, RunStart.newDataSecret());
            assertThatThrownBy(() -> agents.startRun(w, start).block()).isInstanceOf(AgentCallException.class)
                    .hasMessageEndingWith("start run failed: HTTP 409")
                    .as("the remote's body never reaches an error").hasMessageNotContaining("run r is not open");
            assertThat(startCalls.get()).as("a start is never retried").isEqualTo(1);
            assertThat(agents.breaker(w).getMetrics().getNumberOfFailedCalls()).as("a 4xx is no sign of ill health").isZero();
        } finally {
            server.stop(0);
        }
    }

    /**
     * Whatever answers at a registered URL must not get its words into run errors or deployment reasons (finding 5
     * of issue 23: a response body was copied into a deployment's stateReason), and every call carries the worker's
     * own agent token.
     */
    @Test
    void errorsNameTheCallAndStatusNeverTheBodyAndCallsCarryTheWorkersOwnToken() throws Exception {
        java.util.List<String> bearers = new java.util.concurrent.CopyOnWriteArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            bearers.add(ex.getRequestHeaders().getFirst("Authorization"));
            byte[] body = "<html>secret internal admin page: db password hunter2</html>".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(400, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            Worker w = worker("http://127.0.0.1:" + server.getAddress().getPort());
            AgentClient agents = new AgentClient(WebClient.builder(), CircuitBreakerRegistry.ofDefaults(), RetryRegistry.ofDefaults(),
                    Duration.ofMillis(500), x -> java.util.Optional.of("token-of-" + x.id()),
                    new io.pipefill.controlplane.cluster.AgentUrlPolicy(true));
            for (Runnable call : List.<Runnable>of(() -> agents.assignShard(w, new io.pipefill.model.agent.ShardAssignment("d", "/m", 1, 1, List.of(1), 0, 1, 64)).block(), () -> agents.releaseShard(w).block(),
                    () -> agents.openRun(w, "r").block(), () -> agents.abortRun(w, "r").block())) {
                assertThatThrownBy(call::run).isInstanceOf(AgentCallException.class).hasMessageContaining("HTTP 400")
                        .hasMessageNotContaining("hunter2").hasMessageNotContaining("html");
            }
            assertThat(bearers).isNotEmpty().allMatch(b -> b.equals("Bearer token-of-" + w.id()));
            // a loopback agent URL is refused before any call when loopback is not allowed
            AgentClient strict = new AgentClient(WebClient.builder(), CircuitBreakerRegistry.ofDefaults(), RetryRegistry.ofDefaults(),
                    Duration.ofMillis(500), x -> java.util.Optional.of("t"), new io.pipefill.controlplane.cluster.AgentUrlPolicy(false));
            int before = bearers.size();
            assertThatThrownBy(() -> strict.status(w).block()).isInstanceOf(AgentCallException.class).hasMessageContaining("loopback");
            assertThat(bearers).hasSize(before);
        } finally {
            server.stop(0);
        }
    }
}
