package io.pipefill.controlplane.agent;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.reactor.circuitbreaker.operator.CircuitBreakerOperator;
import io.github.resilience4j.reactor.retry.RetryOperator;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.AgentStatus;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.RunStart;
import io.pipefill.model.agent.ShardAssignment;
import java.time.Duration;
import java.util.function.Function;
import org.springframework.http.HttpHeaders;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.core.publisher.Mono;

/**
 * Every control-plane → worker call, guarded by Resilience4j: a circuit breaker per worker (a dead worker
 * fails fast instead of tying up runs), a timeout on every call, and retries only where the call is
 * idempotent (status, shard assignment, opening a run's data port, abort). Starting a run is never
 * retried: the agent refuses a second start, and the run is failed instead.
 */
public class AgentClient {
    private final WebClient web;
    private final CircuitBreakerRegistry breakers;
    private final CircuitBreakerConfig breakerConfig;
    private final Retry retry;
    private final Duration timeout;
    private final String joinToken;

    public AgentClient(WebClient.Builder builder, CircuitBreakerRegistry breakers, RetryRegistry retries,
                       Duration timeout, String joinToken) {
        this.web = builder.build();
        this.breakers = breakers;
        // a 4xx is the agent's considered answer (bad state, bad input): neither retried nor a sign of ill health
        this.breakerConfig = CircuitBreakerConfig.from(breakers.getDefaultConfig())
                .ignoreException(AgentClient::isClientError).build();
        this.retry = retries.retry("worker-agent", RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(200))
                .retryOnException(e -> !isClientError(e)).build());
        this.timeout = timeout;
        this.joinToken = joinToken;
    }

    public Mono<AgentStatus> status(Worker w) {
        return guarded(w, "status", true, web.get().uri(w.agentUrl() + "/agent/status")
                .headers(this::auth).retrieve().bodyToMono(AgentStatus.class));
    }

    public Mono<Void> assignShard(Worker w, ShardAssignment a) {
        return guarded(w, "assign shard", true, web.put().uri(w.agentUrl() + "/agent/shard").headers(this::auth)
                .bodyValue(a).retrieve().toBodilessEntity().then());
    }

    public Mono<Void> releaseShard(Worker w) {
        return guarded(w, "release shard", true, web.delete().uri(w.agentUrl() + "/agent/shard").headers(this::auth)
                .retrieve().toBodilessEntity().then());
    }

    public Mono<DataEndpoint> openRun(Worker w, String runId) {
        return guarded(w, "open run", true, web.post().uri(w.agentUrl() + "/agent/runs/{id}/open", runId)
                .headers(this::auth).retrieve().bodyToMono(DataEndpoint.class));
    }

    public Mono<Void> startRun(Worker w, RunStart start) {
        return guarded(w, "start run", false, web.post().uri(w.agentUrl() + "/agent/runs/{id}/start", start.runId())
                .headers(this::auth).bodyValue(start).retrieve().toBodilessEntity().then());
    }

    public Mono<Void> abortRun(Worker w, String runId) {
        return guarded(w, "abort run", true, web.delete().uri(w.agentUrl() + "/agent/runs/{id}", runId)
                .headers(this::auth).retrieve().toBodilessEntity().then());
    }

    /** A worker's circuit breaker, named after it (visible in metrics as worker-&lt;id&gt;). */
    public CircuitBreaker breaker(Worker w) {
        return breakers.circuitBreaker("worker-" + w.id(), breakerConfig);
    }

    private static boolean isClientError(Throwable e) {
        return e instanceof WebClientResponseException r && r.getStatusCode().is4xxClientError();
    }

    private void auth(HttpHeaders h) {
        h.setBearerAuth(joinToken);
    }

    private <T> Mono<T> guarded(Worker w, String call, boolean idempotent, Mono<T> request) {
        Mono<T> m = request.timeout(timeout);
        if (idempotent) {
            m = m.transformDeferred(RetryOperator.of(retry));
        }
        return m.transformDeferred(CircuitBreakerOperator.of(breaker(w)))
                .onErrorMap(e -> !(e instanceof AgentCallException), describe(w, call));
    }

    private static Function<Throwable, Throwable> describe(Worker w, String call) {
        return e -> {
            String why;
            if (e instanceof WebClientResponseException r) {
                String body = r.getResponseBodyAsString();
                why = "HTTP " + r.getStatusCode().value() + (body.isBlank() ? "" : ": " + body);
            } else if (e instanceof java.util.concurrent.TimeoutException) {
                why = "no answer in time";
            } else {
                why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            }
            return new AgentCallException("worker " + w.id() + " at " + w.agentUrl() + ": " + call + " failed: " + why, e);
        };
    }
}
