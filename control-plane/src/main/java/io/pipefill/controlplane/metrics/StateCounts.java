package io.pipefill.controlplane.metrics;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.cluster.ClusterRepository;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Read-only counts for the state gauges: one small aggregate query per table. Blocking. */
@Repository
class StateCounts {
    private final JdbcClient jdbc;
    private final ClusterRepository cluster;
    private final Duration retention;

    StateCounts(JdbcClient jdbc, ClusterRepository cluster, PipefillProperties props) {
        this.jdbc = jdbc;
        this.cluster = cluster;
        this.retention = props.lostWorkerRetention();
    }

    /** The current workers (retired LOST ones left out, as in the worker list) by state. */
    Map<String, Long> workersByState() {
        return cluster.currentWorkersByState(Instant.now().minus(retention));
    }

    Map<String, Long> deploymentsByState() {
        Map<String, Long> counts = new HashMap<>();
        jdbc.sql("select state, count(*) from deployments group by state")
                .query((rs, i) -> counts.put(rs.getString(1), rs.getLong(2))).list();
        return counts;
    }
}
