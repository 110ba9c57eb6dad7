package io.pipefill.controlplane.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;

/**
 * The OpenAI-compatible routes' requests, under the names people already scrape from vLLM and SGLang (with a
 * {@code pipefill_} prefix and a {@code model_name} label, the deployment): {@code pipefill_time_to_first_token_seconds}
 * (request arrival to the first token reaching the control plane; buckets up to an hour, for million-token
 * prompts), {@code pipefill_time_per_output_token_seconds} (between the first and the last token),
 * {@code pipefill_e2e_request_latency_seconds}, {@code pipefill_prompt_tokens_total},
 * {@code pipefill_generation_tokens_total} and {@code pipefill_request_success_total} by {@code finished_reason}
 * (stop, length, abort when the client went away).
 */
@Component
public class ServingMetrics {
    /** Seconds from a decode step's milliseconds up to the minute-long steps of a huge model on CPUs. */
    static final Duration[] TPOT_SLOS = {
            Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(20),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10),
            Duration.ofSeconds(30), Duration.ofMinutes(1)};

    private final MeterRegistry registry;

    public ServingMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public void firstToken(String model, Duration sinceArrival) {
        timer("pipefill.time_to_first_token", "Time from a request's arrival to its first generated token", model,
                RunMetrics.TTFT_SLOS, Duration.ofHours(1)).record(sinceArrival.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * A finished request: its token counts, its latency and its reason; the time per output token when it
     * produced at least two.
     */
    public void finished(String model, String finishedReason, int promptTokens, int generationTokens,
                         Duration sinceArrival, Duration firstToLastToken) {
        counter("pipefill.prompt_tokens", "Prompt tokens of the OpenAI routes' requests", model).increment(promptTokens);
        counter("pipefill.generation_tokens", "Tokens generated for the OpenAI routes' requests", model)
                .increment(generationTokens);
        Counter.builder("pipefill.request_success").description("OpenAI route requests that finished, by reason")
                .tag("model_name", model).tag("finished_reason", finishedReason).register(registry).increment();
        timer("pipefill.e2e_request_latency", "Time from a request's arrival to its last token", model,
                RunMetrics.TTFT_SLOS, Duration.ofHours(1)).record(sinceArrival.toNanos(), TimeUnit.NANOSECONDS);
        if (generationTokens >= 2 && firstToLastToken != null) {
            timer("pipefill.time_per_output_token", "Time per generated token after the first", model, TPOT_SLOS,
                    Duration.ofMinutes(1)).record(firstToLastToken.toNanos() / (generationTokens - 1), TimeUnit.NANOSECONDS);
        }
    }

    private Timer timer(String name, String description, String model, Duration[] slos, Duration max) {
        return Timer.builder(name).description(description).tag("model_name", model)
                .serviceLevelObjectives(slos).minimumExpectedValue(slos[0]).maximumExpectedValue(max)
                .register(registry);
    }

    private Counter counter(String name, String description, String model) {
        return Counter.builder(name).description(description).tag("model_name", model).baseUnit("tokens")
                .register(registry);
    }
}
