package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.PipefillProperties;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;
import org.springframework.stereotype.Component;

/**
 * Every heartbeat interval, marks workers silent for longer than the heartbeat timeout LOST and publishes
 * {@link WorkersLost} for them. Registered through {@link SchedulingConfigurer} so that the interval is the
 * bound {@code Duration} property rather than a re-parsed annotation string.
 *
 * <p>Heartbeats that arrive while the database is unreachable cannot be recorded, so a database outage would look
 * like every worker falling silent; so would the time a control plane was down (workers outlive it, and heartbeat
 * the new process with their credentials). So nobody is marked lost until a full heartbeat timeout has passed since
 * this process began to listen, or since the database came back after a failed sweep: live workers have been heard
 * by then, and a worker that really died is found one timeout later than usual.
 */
@Component
class LostWorkerSweep implements SchedulingConfigurer {
    private static final Logger log = LoggerFactory.getLogger(LostWorkerSweep.class);

    private final ClusterRepository cluster;
    private final ApplicationEventPublisher events;
    private final PipefillProperties props;
    /** A sweep failed (the database was away) and none has succeeded since. */
    private volatile boolean databaseWasAway;
    /**
     * When this process began to listen or the database came back: no worker is judged silent before this plus the
     * timeout. Null until the application is ready (a start under load can take longer than the timeout).
     */
    private volatile Instant databaseBackAt;

    LostWorkerSweep(ClusterRepository cluster, ApplicationEventPublisher events, PipefillProperties props) {
        this.cluster = cluster;
        this.events = events;
        this.props = props;
    }

    /** The API listens from now on: the workers that outlived the last process can reach this one. */
    @EventListener(ApplicationReadyEvent.class)
    void listening() {
        databaseBackAt = Instant.now();
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
            databaseWasAway = true;
        }
    }

    /** Marks the silent workers lost and publishes them; returns them. */
    List<Worker> sweep(Instant now) {
        if (databaseWasAway) {
            cluster.workers(); // throws while the database is still away
            databaseWasAway = false;
            databaseBackAt = now;
            log.info("the database is back: workers get {} to be heard again before any is marked lost",
                    props.heartbeatTimeout());
        }
        Instant back = databaseBackAt;
        if (back == null || now.isBefore(back.plus(props.heartbeatTimeout()))) {
            return List.of();
        }
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
