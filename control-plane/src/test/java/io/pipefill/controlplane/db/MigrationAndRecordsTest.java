package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.WorkerRegistration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.ActiveProfiles;

@SpringBootTest
@ActiveProfiles("test")
class MigrationAndRecordsTest {
    @Autowired
    JdbcClient jdbc;
    @Autowired
    ClusterRepository cluster;

    @Test
    void migratesFromEmptyAndRoundTripsAWorker() {
        List<String> tables = jdbc.sql("select table_name from information_schema.tables where table_schema = 'public' order by 1")
                .query(String.class).list();
        assertThat(tables).contains("nodes", "workers", "models", "deployments", "placements", "runs", "run_events");
        Worker w = cluster.register(new WorkerRegistration("node-a", "10.0.0.1", 16, 1L << 37,
                List.of(new GpuInventory("H100", 80L << 30, 8)), Map.of("zone", "a"), "cpu", "http://10.0.0.1:9000", null),
                Instant.now());
        assertThat(w.state()).isEqualTo(WorkerState.IDLE);
        assertThat(cluster.node(w.nodeId()).orElseThrow().gpus()).containsExactly(new GpuInventory("H100", 80L << 30, 8));
    }
}
