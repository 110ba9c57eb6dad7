package io.pipefill.controlplane.agent;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.reactor.circuitbreaker.operator.CircuitBreakerOperator;
import io.github.resilience4j.reactor.retry.RetryOperator;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import io.pipefill.controlplane.cluster.AgentUrlPolicy;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.AgentStatus;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.RunStart;
import io.pipefill.model.agent.ShardAssignment;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Every control-plane → worker call, guarded by Resilience4j: a circuit breaker per worker (a dead worker
 * fails fast instead of tying up runs), a timeout on every call, and retries only where the call is
 * idempotent (status, shard assignment, opening a run's data port, abort). Starting a run is never
 * retried: the agent refuses a second start, and the run is failed instead.
 *
 * <p>Each call carries the called worker's own agent token (never the join token, which agents refuse), and is
 * made only while the agent URL's host passes the {@link AgentUrlPolicy} (checked again per call: DNS may have
 * changed since the registration). An error names the worker, the call and the HTTP status, never the body the
 * remote answered: whatever listens at a registered URL must not get its words into run errors or deployment
 * reasons.
 */
public class AgentClient {
    private static final Logger log = LoggerFactory.getLogger(AgentClient.class);

    private final WebClient web;
    private final CircuitBreakerRegistry breakers;
    private final CircuitBreakerConfig breakerConfig;
    private final Retry retry;
    private final Duration timeout;
    private final Function<Worker, Optional<String>> agentTokens;
    private final AgentUrlPolicy urls;

    /**
     * @param agentTokens the token each worker's agent accepts (blocking lookups are fine: made off the event loop)
     */
    public AgentClient(WebClient.Builder builder, CircuitBreakerRegistry breakers, RetryRegistry retries,
                       Duration timeout, Function<Worker, Optional<String>> agentTokens, AgentUrlPolicy urls) {
        this.web = builder.build();
        this.breakers = breakers;
        // a 4xx is the agent's considered answer (bad state, bad input): neither retried nor a sign of ill health
        this.breakerConfig = CircuitBreakerConfig.from(breakers.getDefaultConfig())
                .ignoreException(AgentClient::isClientError).build();
        this.retry = retries.retry("worker-agent", RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(200))
                .retryOnException(e -> !isClientError(e) && !(e instanceof Refused)).build());
        this.timeout = timeout;
        this.agentTokens = agentTokens;
        this.urls = urls;
    }

    public Mono<AgentStatus> status(Worker w) {
        return guarded(w, "status", true, token -> web.get().uri(w.agentUrl() + "/agent/status")
                .headers(h -> h.setBearerAuth(token)).retrieve().bodyToMono(AgentStatus.class));
    }

    public Mono<Void> assignShard(Worker w, ShardAssignment a) {
        return guarded(w, "assign shard", true, token -> web.put().uri(w.agentUrl() + "/agent/shard")
                .headers(h -> h.setBearerAuth(token)).bodyValue(a).retrieve().toBodilessEntity().then());
    }

    public Mono<Void> releaseShard(Worker w) {
        return guarded(w, "release shard", true, token -> web.delete().uri(w.agentUrl() + "/agent/shard")
                .headers(h -> h.setBearerAuth(token)).retrieve().toBodilessEntity().then());
    }

    public Mono<DataEndpoint> openRun(Worker w, String runId) {
        return guarded(w, "open run", true, token -> web.post().uri(w.agentUrl() + "/agent/runs/{id}/open", runId)
                .headers(h -> h.setBearerAuth(token)).retrieve().bodyToMono(DataEndpoint.class));
    }

    public Mono<Void> startRun(Worker w, RunStart start) {
        return guarded(w, "start run", false, token -> web.post().uri(w.agentUrl() + "/agent/runs/{id}/start", start.runId())
                .headers(h -> h.setBearerAuth(token)).bodyValue(start).retrieve().toBodilessEntity().then());
    }

    public Mono<Void> abortRun(Worker w, String runId) {
        return guarded(w, "abort run", true, token -> web.delete().uri(w.agentUrl() + "/agent/runs/{id}", runId)
                .headers(h -> h.setBearerAuth(token)).retrieve().toBodilessEntity().then());
    }

    /** A worker's circuit breaker, named after it (visible in metrics as worker-&lt;id&gt;). */
    public CircuitBreaker breaker(Worker w) {
        return breakers.circuitBreaker("worker-" + w.id(), breakerConfig);
    }

    /** One unguarded status call with the worker's own token (no retry, no breaker): for the liveness probe. */
    Mono<Integer> statusCode(Worker w, Duration within) {
        return authorized(w).flatMap(token -> web.get().uri(w.agentUrl() + "/agent/status")
                        .headers(h -> h.setBearerAuth(token)).exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())))
                .timeout(within);
    }

    private static boolean isClientError(Throwable e) {
        return e instanceof WebClientResponseException r && r.getStatusCode().is4xxClientError();
    }

    /** The call may not be made: the worker has no agent token, or its host is refused now. Never retried. */
    static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    /** The worker's agent token once its URL passes the policy; looked up off the event loop. */
    private Mono<String> authorized(Worker w) {
        return Mono.fromCallable(() -> {
            String why = urls.callProblem(w.agentUrl());
            if (why != null) {
                throw new Refused(why);
            }
            return agentTokens.apply(w).orElseThrow(() -> new Refused("no agent token on record (registered before"
                    + " per-worker credentials); it must register again"));
        }).subscribeOn(Schedulers.boundedElastic());
    }

    private <T> Mono<T> guarded(Worker w, String call, boolean idempotent, Function<String, Mono<T>> request) {
        Mono<T> m = authorized(w).flatMap(token -> request.apply(token).timeout(timeout));
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
                // the status only: the body is the remote's to write, and must not reach run errors or deployment reasons
                why = "HTTP " + r.getStatusCode().value();
                if (log.isDebugEnabled()) {
                    log.debug("worker {} answered {} with HTTP {} ({} bytes)", w.id(), call, r.getStatusCode().value(),
                            r.getResponseBodyAsByteArray().length);
                }
            } else if (e instanceof java.util.concurrent.TimeoutException) {
                why = "no answer in time";
            } else {
                why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            }
            return new AgentCallException("worker " + w.id() + " at " + w.agentUrl() + ": " + call + " failed: " + why, e);
        };
    }
}
