package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.PipefillProperties;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;
import org.springframework.stereotype.Component;

/**
 * Every heartbeat interval, marks workers silent for longer than the heartbeat timeout LOST and publishes
 * {@link WorkersLost} for them. Registered through {@link SchedulingConfigurer} so that the interval is the
 * bound {@code Duration} property rather than a re-parsed annotation string.
 */
@Component
class LostWorkerSweep implements SchedulingConfigurer {
    private static final Logger log = LoggerFactory.getLogger(LostWorkerSweep.class);

    private final ClusterRepository cluster;
    private final ApplicationEventPublisher events;
    private final PipefillProperties props;

    LostWorkerSweep(ClusterRepository cluster, ApplicationEventPublisher events, PipefillProperties props) {
        this.cluster = cluster;
        this.events = events;
        this.props = props;
    }

    @Override
    public void configureTasks(ScheduledTaskRegistrar registrar) {
        registrar.addFixedDelayTask(this::sweepSafely, props.heartbeatInterval());
    }

    private void sweepSafely() {
        try {
            sweep(Instant.now());
        } catch (RuntimeException e) {
            // a failed sweep (database briefly away) must not cancel the schedule; the next one retries
            log.warn("lost-worker sweep failed: {}", e.toString());
        }
    }

    /** Marks the silent workers lost and publishes them; returns them. */
    List<Worker> sweep(Instant now) {
        List<Worker> lost = cluster.markLost(now.minus(props.heartbeatTimeout()));
        if (lost.isEmpty()) {
            return lost;
        }
        for (Worker w : lost) {
            String node = cluster.node(w.nodeId()).map(Node::name).orElse(String.valueOf(w.nodeId()));
            log.warn("worker {} on node {} at {} lost: last heartbeat {} ({} ms ago, timeout {})", w.id(), node,
                    w.agentUrl(), w.lastHeartbeat(), w.lastHeartbeat() == null ? "?"
                            : Duration.between(w.lastHeartbeat(), now).toMillis(), props.heartbeatTimeout());
        }
        events.publishEvent(new WorkersLost(lost));
        return lost;
    }
}
