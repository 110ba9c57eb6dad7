package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.model.agent.RegistrationAccepted;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * Heartbeats are compared with placements (finding 12 of issue 23): a worker that reports no shard while it
 * holds a rank of a READY deployment used to leave that deployment READY, and every run on it failed.
 */
class HeartbeatReconciliationTest extends ApiTestSupport {
    @Autowired
    DeploymentRepository deployments;

    private RegisteredModel model() throws Exception {
        return tinyModel("tiny-drift");
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

    /**
     * Sends the worker's heartbeats every 100 ms (the test profile loses a worker after 2 s of silence, which would
     * degrade the deployment for another reason) with whatever {@code next} holds; stop it when done.
     */
    private ScheduledExecutorService beating(RegistrationAccepted w, AtomicReference<Map<String, Object>> next) {
        ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor();
        s.scheduleAtFixedRate(() -> heartbeat(w.workerId(), next.get(), credential(w.workerId())), 0, 100, TimeUnit.MILLISECONDS);
        return s;
    }

    private DeploymentState state(Deployment d) {
        return deployments.byId(d.id()).orElseThrow().state();
    }

    @Test
    void aWorkerReportingNoShardDegradesItsReadyDeploymentWithTheReason() throws Exception {
        model();
        RegistrationAccepted w = register(registration(unique("drift"), "http://" + unique("drift") + ":9100"));
        Deployment d = readyOn(w);
        AtomicReference<Map<String, Object>> next = new AtomicReference<>(beat("READY", d.id()));
        ScheduledExecutorService beats = beating(w, next);
        try {
            // agreeing heartbeats change nothing: READY or RUNNING with the deployment's shard, LOADING it again
            for (String s : new String[] {"READY", "RUNNING", "LOADING"}) {
                next.set(beat(s, d.id()));
                heartbeat(w.workerId(), beat(s, d.id()), credential(w.workerId())).expectStatus().isNoContent();
                Thread.sleep(250);
                assertThat(state(d)).as(s).isEqualTo(DeploymentState.READY);
            }

            // restarted in place, or its shard released behind the control plane's back
            next.set(beat("IDLE", null));
            await().atMost(Duration.ofSeconds(5)).until(() -> state(d) == DeploymentState.DEGRADED);
            assertThat(deployments.byId(d.id()).orElseThrow().stateReason())
                    .contains("worker " + w.workerId() + " (rank 0").contains("reports IDLE with no shard")
                    .contains("its shard is gone");
            adminGet("/api/v1/deployments/{id}", d.id()).exchange().expectBody().jsonPath("$.state").isEqualTo("DEGRADED");
            assertThat(lostEvents.sawWorker(w.workerId())).as("degraded by the heartbeat, not by a lost worker").isFalse();
        } finally {
            beats.shutdownNow();
        }
    }

    @Test
    void aWorkerHoldingAnotherDeploymentsShardDegradesItsReadyDeploymentToo() throws Exception {
        model();
        RegistrationAccepted w = register(registration(unique("drift2"), "http://" + unique("drift2") + ":9100"));
        Deployment d = readyOn(w);
        AtomicReference<Map<String, Object>> next = new AtomicReference<>(beat("READY", d.id()));
        ScheduledExecutorService beats = beating(w, next);
        try {
            next.set(beat("READY", UUID.randomUUID()));
            await().atMost(Duration.ofSeconds(5)).until(() -> state(d) == DeploymentState.DEGRADED);
            assertThat(deployments.byId(d.id()).orElseThrow().stateReason()).contains("reports READY for deployment");
            assertThat(lostEvents.sawWorker(w.workerId())).isFalse();
        } finally {
            beats.shutdownNow();
        }
    }
}
