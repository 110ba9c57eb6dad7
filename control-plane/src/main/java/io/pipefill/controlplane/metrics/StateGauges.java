package io.pipefill.controlplane.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.deployment.DeploymentState;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * {@code pipefill.workers} and {@code pipefill.deployments}, tagged by state (every state, zeros included, so
 * a dashboard never sees a series vanish). The counts come from the database on a schedule into AtomicLongs:
 * a Prometheus scrape runs on a WebFlux event loop and must never wait on JDBC.
 */
@Component
public class StateGauges {
    private static final Logger log = LoggerFactory.getLogger(StateGauges.class);

    private final StateCounts counts;
    private final Map<WorkerState, AtomicLong> workers = new EnumMap<>(WorkerState.class);
    private final Map<DeploymentState, AtomicLong> deployments = new EnumMap<>(DeploymentState.class);

    StateGauges(StateCounts counts, MeterRegistry registry) {
        this.counts = counts;
        for (WorkerState s : WorkerState.values()) {
            AtomicLong value = workers.computeIfAbsent(s, k -> new AtomicLong());
            Gauge.builder("pipefill.workers", value, AtomicLong::get).description("Registered workers by state")
                    .tag("state", s.name()).register(registry);
        }
        for (DeploymentState s : DeploymentState.values()) {
            AtomicLong value = deployments.computeIfAbsent(s, k -> new AtomicLong());
            Gauge.builder("pipefill.deployments", value, AtomicLong::get).description("Deployments by state")
                    .tag("state", s.name()).register(registry);
        }
    }

    /** Re-reads the counts; on a database error the previous values stay (a gap beats a false zero). */
    @Scheduled(initialDelay = 0, fixedDelayString = "${pipefill.metrics.refresh-interval:5s}")
    public void refresh() {
        try {
            Map<String, Long> w = counts.workersByState();
            Map<String, Long> d = counts.deploymentsByState();
            workers.forEach((state, value) -> value.set(w.getOrDefault(state.name(), 0L)));
            deployments.forEach((state, value) -> value.set(d.getOrDefault(state.name(), 0L)));
        } catch (RuntimeException e) {
            log.warn("metrics: could not refresh worker/deployment counts, keeping the last ones: {}", e.toString());
        }
    }
}
