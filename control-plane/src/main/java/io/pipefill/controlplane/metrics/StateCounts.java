package io.pipefill.controlplane.metrics;

import java.util.HashMap;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Read-only counts for the state gauges: one small aggregate query per table. Blocking. */
@Repository
class StateCounts {
    private final JdbcClient jdbc;

    StateCounts(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    Map<String, Long> workersByState() {
        return byState("workers");
    }

    Map<String, Long> deploymentsByState() {
        return byState("deployments");
    }

    private Map<String, Long> byState(String table) {
        Map<String, Long> counts = new HashMap<>();
        jdbc.sql("select state, count(*) from " + table + " group by state")
                .query((rs, i) -> counts.put(rs.getString(1), rs.getLong(2))).list();
        return counts;
    }
}
