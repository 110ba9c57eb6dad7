package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * Heartbeats are compared with placements (finding 12 of issue 23): a worker that reports no shard while it
 * holds a rank of a READY deployment used to leave that deployment READY, and every run on it failed.
 */
class HeartbeatReconciliationTest extends ApiTestSupport {
    @Autowired
    ModelRegistrar registrar;
    @Autowired
    ModelRepository models;
    @Autowired
    DeploymentRepository deployments;

    private RegisteredModel model() throws Exception {
        RegisteredModel m = models.byName("tiny-drift").orElse(null);
        if (m == null) {
            Path dir = Files.createTempDirectory("pipefill-drift-test-").resolve("tiny");
            new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 2).write(dir);
            m = registrar.register("tiny-drift", dir.toString());
        }
        return m;
    }

    private Deployment readyOn(RegistrationAccepted w) throws Exception {
        return deployments.insert(new Deployment(UUID.randomUUID(), unique("dep-drift"), model().id(), 1, 1,
                List.of(model().layers()), 64, false, 0.75, 256, 1, DeploymentState.READY, null,
                List.of(new Placement(0, 0, 0, UUID.fromString(w.workerId()))), null, null));
    }

    private static Map<String, Object> beat(String state, Object deploymentId) {
        Map<String, Object> b = new HashMap<>();
        b.put("state", state);
        b.put("deploymentId", deploymentId == null ? null : deploymentId.toString());
        return b;
    }

    @Test
    void aWorkerReportingNoShardDegradesItsReadyDeploymentWithTheReason() throws Exception {
        RegistrationAccepted w = register(registration(unique("drift"), "http://" + unique("drift") + ":9100"));
        Deployment d = readyOn(w);
        // agreeing heartbeats change nothing: READY or RUNNING with the deployment's shard, LOADING it again
        for (String s : new String[] {"READY", "RUNNING", "LOADING"}) {
            heartbeat(w.workerId(), beat(s, d.id()), credential(w.workerId())).expectStatus().isNoContent();
        }
        assertThat(deployments.byId(d.id()).orElseThrow().state()).isEqualTo(DeploymentState.READY);

        // restarted in place, or its shard released behind the control plane's back
        heartbeat(w.workerId(), beat("IDLE", null), credential(w.workerId())).expectStatus().isNoContent();
        await().atMost(Duration.ofSeconds(5)).until(() -> deployments.byId(d.id()).orElseThrow().state() == DeploymentState.DEGRADED);
        assertThat(deployments.byId(d.id()).orElseThrow().stateReason())
                .contains("worker " + w.workerId() + " (rank 0").contains("reports IDLE with no shard")
                .contains("its shard is gone");
        adminGet("/api/v1/deployments/{id}", d.id()).exchange().expectBody().jsonPath("$.state").isEqualTo("DEGRADED");
    }

    @Test
    void aWorkerHoldingAnotherDeploymentsShardDegradesItsReadyDeploymentToo() throws Exception {
        RegistrationAccepted w = register(registration(unique("drift2"), "http://" + unique("drift2") + ":9100"));
        Deployment d = readyOn(w);
        heartbeat(w.workerId(), beat("READY", UUID.randomUUID()), credential(w.workerId())).expectStatus().isNoContent();
        await().atMost(Duration.ofSeconds(5)).until(() -> deployments.byId(d.id()).orElseThrow().state() == DeploymentState.DEGRADED);
        assertThat(deployments.byId(d.id()).orElseThrow().stateReason()).contains("reports READY for deployment");
    }
}
