package io.pipefill.controlplane.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.WorkerRegistration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;

/** Run metrics and state gauges, read back as Prometheus text from the real endpoint. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        // the test refreshes the gauges itself
        "pipefill.metrics.refresh-interval=1h"})
@AutoConfigureWebTestClient
@ActiveProfiles("test")
// its own properties make this context unshareable: close it (and its embedded database) when done
@DirtiesContext
class MetricsEndpointTest {
    @Autowired
    WebTestClient web;
    @Autowired
    RunMetrics runs;
    @Autowired
    StateGauges gauges;
    @Autowired
    ClusterRepository cluster;
    @Autowired
    JdbcClient jdbc;

    @Test
    void prometheusShowsRunHistogramsCountersAndStateGauges() {
        Worker a = register(1);
        register(2);
        register(3);
        cluster.markLostById(List.of(a.id()));
        deployment("llama-ready", "READY");
        deployment("llama-degraded", "DEGRADED");
        deployment("llama-ready-2", "READY");
        gauges.refresh();

        runs.recordRun("llama", 42.0, 1_500.0, true);      // 42 ms, 1500 tokens/s
        runs.recordRun("llama", 90_000.0, 20_000.0, true); // 90 s, 20000 tokens/s
        runs.recordRun("llama", Double.NaN, 0, false);

        String text = scrape();

        // TTFT histogram, in seconds: 42 ms falls in le=0.05 but not le=0.025; both runs are under 2 min
        assertThat(text).contains("pipefill_run_ttft_seconds_bucket{deployment=\"llama\",le=\"0.025\"} 0");
        assertThat(text).contains("pipefill_run_ttft_seconds_bucket{deployment=\"llama\",le=\"0.05\"} 1");
        assertThat(text).contains("pipefill_run_ttft_seconds_bucket{deployment=\"llama\",le=\"60.0\"} 1");
        assertThat(text).contains("pipefill_run_ttft_seconds_bucket{deployment=\"llama\",le=\"120.0\"} 2");
        assertThat(text).contains("pipefill_run_ttft_seconds_bucket{deployment=\"llama\",le=\"3600.0\"} 2");
        assertThat(text).contains("pipefill_run_ttft_seconds_count{deployment=\"llama\"} 2");
        // throughput histogram, tokens/s; the failed run is not in it
        assertThat(text).contains("pipefill_run_throughput_tokens_per_second_bucket{deployment=\"llama\",le=\"1000.0\"} 0");
        assertThat(text).contains("pipefill_run_throughput_tokens_per_second_bucket{deployment=\"llama\",le=\"5000.0\"} 1");
        assertThat(text).contains("pipefill_run_throughput_tokens_per_second_bucket{deployment=\"llama\",le=\"50000.0\"} 2");
        assertThat(text).contains("pipefill_run_throughput_tokens_per_second_count{deployment=\"llama\"} 2");
        // runs by outcome
        assertThat(text).contains("pipefill_runs_total{deployment=\"llama\",outcome=\"succeeded\"} 2");
        assertThat(text).contains("pipefill_runs_total{deployment=\"llama\",outcome=\"failed\"} 1");
        // gauges, every state present
        assertThat(text).contains("pipefill_workers{state=\"IDLE\"} 2");
        assertThat(text).contains("pipefill_workers{state=\"LOST\"} 1");
        assertThat(text).contains("pipefill_workers{state=\"RUNNING\"} 0");
        assertThat(text).contains("pipefill_deployments{state=\"READY\"} 2");
        assertThat(text).contains("pipefill_deployments{state=\"DEGRADED\"} 1");
        assertThat(text).contains("pipefill_deployments{state=\"DELETED\"} 0");

        // the gauges follow the database at the next refresh, not at scrape time
        cluster.markLostById(cluster.workers().stream().map(Worker::id).toList());
        assertThat(scrape()).contains("pipefill_workers{state=\"LOST\"} 1");
        gauges.refresh();
        assertThat(scrape()).contains("pipefill_workers{state=\"LOST\"} 3").contains("pipefill_workers{state=\"IDLE\"} 0");
    }

    private String scrape() {
        return web.get().uri("/actuator/prometheus") // public: scrapers carry no token
                .exchange().expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody();
    }

    private Worker register(int n) {
        return cluster.register(new WorkerRegistration("node-" + n, "10.0.1." + n, 8, 1L << 34, List.of(), Map.of(), "cpu",
                "http://10.0.1." + n + ":9000", null), Instant.now());
    }

    private void deployment(String name, String state) {
        UUID model = UUID.randomUUID();
        jdbc.sql("""
                        insert into models (id, name, location, architecture, layers, hidden_size, attention_heads, kv_heads,
                            vocab_size, max_positions, parameters, size_bytes, config)
                        values (:id, :name, '/models/x', 'llama', 2, 64, 4, 2, 256, 4096, 1000, 4000, '{}'::jsonb)""")
                .param("id", model).param("name", "model-" + name).update();
        jdbc.sql("""
                        insert into deployments (id, name, model_id, pp, tp, layers_per_stage, chunk_size, dynamic_chunking,
                            sigma, max_tokens, threads_per_rank, state)
                        values (:id, :name, :model, 1, 1, '[2]'::jsonb, 64, false, 0.75, 4096, 1, :state)""")
                .param("id", UUID.randomUUID()).param("name", name).param("model", model).param("state", state).update();
    }
}
