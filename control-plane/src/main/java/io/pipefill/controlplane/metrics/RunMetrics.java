package io.pipefill.controlplane.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;

/**
 * What runs achieved, per deployment: time to first token (a histogram, so a dashboard can take any quantile
 * across control-plane replicas), prefill throughput in tokens per second, and runs counted by outcome
 * (succeeded, failed, cancelled).
 * In Prometheus: {@code pipefill_run_ttft_seconds_*}, {@code pipefill_run_throughput_tokens_per_second_*},
 * {@code pipefill_runs_total}.
 */
@Component
public class RunMetrics {
    /**
     * TTFT buckets from interactive (10 ms) to the longest million-token prefills (1 h); explicit, so that the
     * thresholds people quote (100 ms, 1 s, 1 min) are exact bucket boundaries.
     */
    static final Duration[] TTFT_SLOS = {
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
            Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(1),
            Duration.ofMinutes(2), Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(30),
            Duration.ofHours(1)};
    /** Prefill throughput spans a CPU test model (tens of tokens/s) to a GPU pipeline (10^5 and more). */
    static final double[] THROUGHPUT_SLOS = {10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000};

    private final MeterRegistry registry;

    public RunMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /**
     * Records a finished run. TTFT and throughput are recorded only for successful runs with finite,
     * non-negative values (a failed run's timings would drag the distributions); every run is counted.
     *
     * @param ttftMs          time from submission to the first generated token, in milliseconds
     * @param tokensPerSecond prompt tokens prefilled per second
     */
    public void recordRun(String deploymentName, double ttftMs, double tokensPerSecond, boolean succeeded) {
        String deployment = deploymentName == null || deploymentName.isBlank() ? "unknown" : deploymentName;
        runs(deployment, succeeded ? "succeeded" : "failed").increment();
        if (!succeeded) {
            return;
        }
        if (Double.isFinite(ttftMs) && ttftMs >= 0) {
            ttft(deployment).record(Math.round(ttftMs * 1_000_000d), TimeUnit.NANOSECONDS);
        }
        if (Double.isFinite(tokensPerSecond) && tokensPerSecond >= 0) {
            throughput(deployment).record(tokensPerSecond);
        }
    }

    /** Counts a run cancelled through the API (outcome "cancelled"); it has no timings to record. */
    public void recordCancelled(String deploymentName) {
        runs(deploymentName == null || deploymentName.isBlank() ? "unknown" : deploymentName, "cancelled").increment();
    }

    // Micrometer caches meters by name and tags: building one per call returns the registered instance.
    private Timer ttft(String deployment) {
        return Timer.builder("pipefill.run.ttft")
                .description("Time to first token of successful runs")
                .tag("deployment", deployment)
                .publishPercentileHistogram()
                .serviceLevelObjectives(TTFT_SLOS)
                .minimumExpectedValue(Duration.ofMillis(10))
                .maximumExpectedValue(Duration.ofHours(1))
                .register(registry);
    }

    private DistributionSummary throughput(String deployment) {
        return DistributionSummary.builder("pipefill.run.throughput")
                .description("Prefill throughput of successful runs")
                .baseUnit("tokens.per.second")
                .tag("deployment", deployment)
                .publishPercentileHistogram()
                .serviceLevelObjectives(THROUGHPUT_SLOS)
                .minimumExpectedValue(1d)
                .maximumExpectedValue(10_000_000d)
                .register(registry);
    }

    private Counter runs(String deployment, String outcome) {
        return Counter.builder("pipefill.runs")
                .description("Finished runs by outcome")
                .tag("deployment", deployment)
                .tag("outcome", outcome)
                .register(registry);
    }
}
