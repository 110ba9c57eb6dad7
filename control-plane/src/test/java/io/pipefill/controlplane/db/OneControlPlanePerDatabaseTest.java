package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.run.PromptKind;
import io.pipefill.controlplane.run.RunRepository;
import io.pipefill.controlplane.run.RunState;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.client.ReactorResourceFactory;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Two control planes on one database would break each other: a starting one fails every unfinished run it
 * finds, the other's RUNNING ones included. So the second one does not start while the first runs (it waits
 * for the first one's database lock, then refuses, saying why), and the first one's run is untouched; once the
 * first one has stopped, the next one starts.
 */
class OneControlPlanePerDatabaseTest {
    @TempDir
    Path first;
    @TempDir
    Path second;

    private static ConfigurableApplicationContext start(String... args) {
        return new SpringApplicationBuilder(ControlPlaneApplication.class).profiles("test")
                .initializers(ctx -> ctx.getBeanFactory().addBeanPostProcessor(new BeanPostProcessor() {
                    @Override
                    public Object postProcessBeforeInitialization(Object bean, String name) {
                        if (bean instanceof ReactorResourceFactory f) {
                            f.setUseGlobalResources(false); // see RestartKeepsDataTest
                        }
                        return bean;
                    }
                }))
                .run(args);
    }

    @Test
    void aSecondControlPlaneOnTheSameDatabaseRefusesToStartAndLeavesTheFirstOnesRunsAlone() throws Exception {
        // the shared database: a server of its own that outlives both control planes
        try (EmbeddedPostgres shared = EmbeddedPostgres.builder().start()) {
            String url = shared.getJdbcUrl("postgres", "postgres");
            UUID runId;
            try (ConfigurableApplicationContext a = start("--pipefill.data-dir=" + first, "--server.port=0",
                    "--pipefill.db.url=" + url)) {
                runId = runningRun(a);

                assertThatThrownBy(() -> start("--pipefill.data-dir=" + second, "--server.port=0", "--pipefill.db.url=" + url,
                        "--pipefill.db.lock-wait=2s").close())
                        .rootCause().hasMessageContaining("another control plane is running on this database")
                        .hasMessageContaining("did not stop within 2 s")
                        .hasMessageContaining("pipefill runs one control plane per database");
                assertThat(a.getBean(RunRepository.class).byId(runId).orElseThrow().state())
                        .as("the first control plane's run, after the second one's start").isEqualTo(RunState.RUNNING);
            }
            // the lock ends with the first one's session: now the next one starts, and fails what the first left
            try (ConfigurableApplicationContext b = start("--pipefill.data-dir=" + second, "--server.port=0",
                    "--pipefill.db.url=" + url, "--pipefill.db.lock-wait=2s")) {
                assertThat(b.getBean(RunRepository.class).byId(runId).orElseThrow().state()).isEqualTo(RunState.FAILED);
            }
        }
    }

    /** A RUNNING run of the first control plane, written straight into its database. */
    private static UUID runningRun(ConfigurableApplicationContext cp) {
        JdbcClient jdbc = JdbcClient.create(cp.getBean(DataSource.class));
        UUID model = UUID.randomUUID();
        UUID deployment = UUID.randomUUID();
        jdbc.sql("""
                insert into models (id, name, location, architecture, layers, hidden_size, attention_heads, kv_heads,
                    vocab_size, max_positions, parameters, size_bytes, config)
                values (:id, :name, '/nowhere', 'llama', 2, 64, 4, 4, 256, 1024, 1000, 4000, '{}')""")
                .param("id", model).param("name", "m-" + model).update();
        jdbc.sql("""
                insert into deployments (id, name, model_id, pp, tp, layers_per_stage, chunk_size, dynamic_chunking, sigma,
                    max_tokens, threads_per_rank, state)
                values (:id, :name, :model, 1, 1, '[2]', 128, false, 0.5, 1024, 1, 'READY')""")
                .param("id", deployment).param("name", "d-" + deployment).param("model", model).update();
        RunRepository runs = cp.getBean(RunRepository.class);
        UUID id = UUID.randomUUID();
        runs.insert(id, deployment, PromptKind.RANDOM, 10, 1);
        assertThat(runs.started(id)).isTrue();
        return id;
    }
}
