package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Node;
import io.pipefill.controlplane.cluster.NodeHealth;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.controlplane.run.PromptKind;
import io.pipefill.controlplane.run.Run;
import io.pipefill.controlplane.run.RunEvent;
import io.pipefill.controlplane.run.RunOutcome;
import io.pipefill.controlplane.run.RunProgress;
import io.pipefill.controlplane.run.RunRepository;
import io.pipefill.controlplane.run.RunState;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.AgentState;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.WorkerRegistration;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.pipeline.StageEvent;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.ActiveProfiles;

/** Every record through the real (embedded) PostgreSQL, migrated from empty by Flyway. */
@SpringBootTest
@ActiveProfiles("test")
class MigrationAndRecordsTest {
    @Autowired
    JdbcClient jdbc;
    @Autowired
    ClusterRepository cluster;
    @Autowired
    ModelRegistrar registrar;
    @Autowired
    ModelRepository models;
    @Autowired
    DeploymentRepository deployments;
    @Autowired
    RunRepository runs;

    @TempDir
    Path tmp;

    @Test
    void migratesFromEmpty() {
        List<String> tables = jdbc.sql("select table_name from information_schema.tables where table_schema = 'public' order by 1")
                .query(String.class).list();
        assertThat(tables).contains("nodes", "workers", "models", "deployments", "placements", "runs", "run_events",
                "flyway_schema_history");
        assertThat(jdbc.sql("select count(*) from flyway_schema_history where success").query(Integer.class).single()).isPositive();
    }

    @Test
    void roundTripsNodesWorkersModelsDeploymentsRunsAndEvents() throws Exception {
        Instant t0 = Instant.now(); // the lost-worker sweep runs meanwhile: timestamps must be fresh
        Worker w = cluster.register(new WorkerRegistration("node-rt", "10.0.0.1", 16, 1L << 37,
                List.of(new GpuInventory("H100", 80L << 30, 8)), Map.of("zone", "a"), "cpu", "http://10.0.0.1:9000", "pod-1"), t0);
        assertThat(w.state()).isEqualTo(WorkerState.IDLE);
        assertThat(w.podName()).isEqualTo("pod-1");
        Node n = cluster.node(w.nodeId()).orElseThrow();
        assertThat(n.gpus()).containsExactly(new GpuInventory("H100", 80L << 30, 8));
        assertThat(n.labels()).containsEntry("zone", "a");
        assertThat(n.health()).isEqualTo(NodeHealth.HEALTHY);
        assertThat(cluster.heartbeat(w.id(), new Heartbeat(AgentState.READY, null, null), t0.plusSeconds(1))).isTrue();
        assertThat(cluster.worker(w.id()).orElseThrow().state()).isEqualTo(WorkerState.READY);

        Path dir = tmp.resolve("tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 3).write(dir);
        RegisteredModel m = registrar.register("tiny-rt", dir.toString());
        assertThat(models.byName("tiny-rt")).contains(m);
        assertThat(m.sizeBytes()).isPositive();
        assertThat(m.hasTokenizer()).isTrue();

        Deployment d = deployments.insert(new Deployment(UUID.randomUUID(), "dep-rt", m.id(), 1, 1, List.of(m.layers()), 128,
                true, 0.5, 1024, 1, DeploymentState.LOADING, "loading", List.of(new Placement(0, 0, 0, w.id())), null, null));
        assertThat(deployments.byId(d.id()).orElseThrow()).isEqualTo(d);
        assertThat(d.placements()).containsExactly(new Placement(0, 0, 0, w.id()));
        assertThat(cluster.worker(w.id()).orElseThrow().deploymentId()).isEqualTo(d.id());
        assertThat(deployments.setState(d.id(), DeploymentState.READY, null)).isTrue();
        assertThat(deployments.usingWorker(w.id())).extracting(Deployment::id).containsExactly(d.id());

        UUID runId = UUID.randomUUID();
        Run queued = runs.insert(runId, d.id(), PromptKind.RANDOM, 300, 2);
        assertThat(queued.state()).isEqualTo(RunState.QUEUED);
        runs.started(runId);
        runs.event(runId, "PROGRESS", Map.of("chunk", 0, "chunks", 3));
        assertThat(runs.byId(runId).orElseThrow().progress()).as("a report without the token counts").isNull();
        runs.event(runId, "PROGRESS", Map.of("rank", 1, "chunk", 1, "chunks", 3, "done", 256, "total", 300));
        runs.event(runId, "STAGE", Map.of("rank", 0, "type", "timeline"));
        assertThat(runs.byId(runId).orElseThrow().progress()).as("the latest PROGRESS event")
                .isEqualTo(new RunProgress(2, 3, 256, 300));
        StageEvent e = new StageEvent(0, 0, 0, 0, false, 0, 0, 128, 0.5, 0, 0.5, 10, 10.5, 11);
        float[] logits = {1.5f, -2f, 0.25f};
        runs.succeeded(runId, new RunOutcome(List.of(128, 128, 44), 30.0, 35.0, 10000.0, 0.1, List.of(e), 7, List.of(7, 9), logits));
        Run done = runs.byId(runId).orElseThrow();
        assertThat(done.state()).isEqualTo(RunState.SUCCEEDED);
        assertThat(done.chunkSchedule()).containsExactly(128, 128, 44);
        assertThat(done.ttftMs()).isEqualTo(30.0);
        assertThat(done.timeline()).containsExactly(e);
        assertThat(done.generated()).containsExactly(7, 9);
        assertThat(done.firstToken()).isEqualTo(7);
        assertThat(done.startedAt()).isNotNull();
        assertThat(runs.lastLogits(runId)).hasValueSatisfying(v -> assertThat(v).containsExactly(logits));
        assertThat(runs.events(runId, 0)).extracting(RunEvent::kind).containsExactly("STATE", "STATE", "PROGRESS", "PROGRESS", "STAGE",
                "STATE");
        assertThat(runs.failed(runId, "too late")).as("a finished run stays finished").isFalse();
        assertThat(runs.list(d.id(), RunState.SUCCEEDED, 10)).extracting(Run::id).containsExactly(runId);

        cluster.markLost(t0.plusSeconds(3600));
        assertThat(cluster.worker(w.id()).orElseThrow().state()).isEqualTo(WorkerState.LOST);
        assertThat(cluster.node(n.id()).orElseThrow().health()).isEqualTo(NodeHealth.LOST);
        assertThat(cluster.heartbeat(w.id(), new Heartbeat(AgentState.READY, null, null), Instant.now()))
                .as("a lost worker must register again").isFalse();
        deployments.delete(d.id());
        assertThat(deployments.byId(d.id()).orElseThrow().state()).isEqualTo(DeploymentState.DELETED);
        assertThat(deployments.all(false)).extracting(Deployment::id).doesNotContain(d.id());
    }
}
