package io.pipefill.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.controlplane.kubernetes.KubernetesView.RegisteredPod;
import io.pipefill.controlplane.kubernetes.KubernetesView.UnregisteredPod;
import io.pipefill.model.agent.WorkerRegistration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.event.ApplicationEvents;
import org.springframework.test.context.event.RecordApplicationEvents;

/**
 * The reconciler against fabric8's in-memory API server (CRUD mode: pods created here are what the reconciler
 * lists) and the real embedded PostgreSQL of the {@code test} profile.
 */
@SpringBootTest(properties = {
        "pipefill.kubernetes.enabled=true",
        "pipefill.kubernetes.namespace=pf",
        "pipefill.kubernetes.registration-grace=60s",
        // the test drives every pass itself
        "pipefill.kubernetes.reconcile-interval=1h",
        // its workers never send heartbeats: only pods may make them lost here, however slow the machine (the
        // test profile's 2 s timeout once marked worker-ok lost mid-test on a loaded VM)
        "pipefill.heartbeat-timeout=1h"})
@ActiveProfiles("test")
@RecordApplicationEvents
@DirtiesContext
class WorkerPodReconcilerTest {
    private static final Map<String, String> WORKER_LABELS = Map.of("app.kubernetes.io/component", "pipefill-worker");

    @Autowired
    KubernetesClient k8s;
    @Autowired
    WorkerPodReconciler reconciler;
    @Autowired
    ClusterRepository cluster;
    @Autowired
    KubernetesView view;
    @Autowired
    ApplicationEvents events;

    @TestConfiguration(proxyBeanMethods = false)
    static class MockCluster {
        @Bean(destroyMethod = "destroy")
        KubernetesMockServer kubernetesMockServer() {
            KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                    new KubernetesCrudDispatcher(), false);
            server.init();
            return server;
        }

        @Bean(destroyMethod = "close")
        KubernetesClient kubernetesClient(KubernetesMockServer server) {
            return server.createClient();
        }
    }

    @Test
    void marksWorkersWhosePodsAreGoneLostAndReportsPodsThatNeverRegistered() {
        Instant longAgo = Instant.now().minus(10, ChronoUnit.MINUTES);
        pod("worker-ok", WORKER_LABELS, "Running", longAgo);
        pod("worker-failed", WORKER_LABELS, "Failed", longAgo);
        pod("worker-silent", WORKER_LABELS, "Running", longAgo);
        pod("worker-starting", WORKER_LABELS, "Running", Instant.now());
        pod("worker-pending", WORKER_LABELS, "Pending", null);
        pod("someone-else", Map.of("app", "other"), "Running", longAgo);

        Worker ok = register("worker-ok", 1);
        Worker gone = register("worker-gone", 2);      // its pod was never there (deleted before we looked)
        Worker failed = register("worker-failed", 3);
        Worker bare = register(null, 4);               // not in a pod: only heartbeats decide

        List<Worker> lost = reconciler.reconcile();

        assertThat(lost).extracting(Worker::id).containsExactlyInAnyOrder(gone.id(), failed.id());
        assertThat(state(gone)).isEqualTo(WorkerState.LOST);
        assertThat(state(failed)).isEqualTo(WorkerState.LOST);
        assertThat(state(ok)).isEqualTo(WorkerState.IDLE);
        assertThat(state(bare)).isEqualTo(WorkerState.IDLE);
        assertThat(events.stream(WorkersLost.class).toList()).singleElement()
                .satisfies(e -> assertThat(e.workers()).extracting(Worker::id)
                        .containsExactlyInAnyOrder(gone.id(), failed.id()));

        KubernetesView.Snapshot s = view.snapshot();
        assertThat(s.enabled()).isTrue();
        assertThat(s.error()).isNull();
        assertThat(s.namespace()).isEqualTo("pf");
        assertThat(s.pods()).extracting(KubernetesView.SeenPod::name)
                .containsExactly("worker-failed", "worker-ok", "worker-pending", "worker-silent", "worker-starting");
        assertThat(s.registered()).containsExactly(new RegisteredPod("worker-ok", ok.id(), WorkerState.IDLE));
        assertThat(s.unregistered()).extracting(UnregisteredPod::pod).containsExactly("worker-silent");
        assertThat(s.unregistered().get(0).reason()).contains("never registered").contains("grace 60s");
        assertThat(s.awaitingRegistration()).containsExactly("worker-starting");
        assertThat(s.recentlyLost()).extracting(KubernetesView.LostWorker::reason)
                .containsExactlyInAnyOrder("pod no longer exists", "pod phase is Failed");

        // a second pass finds nothing new: no second event
        assertThat(reconciler.reconcile()).isEmpty();
        assertThat(events.stream(WorkersLost.class)).hasSize(1);

        // the healthy pod is deleted: its worker goes at the next pass, not after a heartbeat timeout
        k8s.pods().inNamespace("pf").withName("worker-ok").delete();
        assertThat(reconciler.reconcile()).extracting(Worker::id).containsExactly(ok.id());
        assertThat(state(ok)).isEqualTo(WorkerState.LOST);
        assertThat(events.stream(WorkersLost.class)).hasSize(2);

        // a worker lost by its heartbeats whose pod keeps running is reported with that history
        Worker silentThenLost = register("worker-silent", 5);
        cluster.markLostById(List.of(silentThenLost.id()));
        reconciler.reconcile();
        assertThat(view.snapshot().unregistered()).singleElement()
                .satisfies(u -> assertThat(u.reason()).contains(silentThenLost.id().toString()).contains("LOST"));
    }

    private void pod(String name, Map<String, String> labels, String phase, Instant startTime) {
        Pod pod = new PodBuilder()
                .withNewMetadata().withName(name).withNamespace("pf").withLabels(labels).endMetadata()
                .withNewSpec().addNewContainer().withName("worker").withImage("pipefill:test").endContainer().endSpec()
                .withNewStatus().withPhase(phase).withStartTime(startTime == null ? null : startTime.toString()).endStatus()
                .build();
        k8s.pods().inNamespace("pf").resource(pod).create();
    }

    private Worker register(String podName, int n) {
        return cluster.register(new WorkerRegistration("node-" + n, "10.0.0." + n, 8, 1L << 34, List.of(), Map.of(), "cpu",
                "http://10.0.0." + n + ":9000", podName), Instant.now());
    }

    private WorkerState state(Worker w) {
        return cluster.worker(w.id()).orElseThrow().state();
    }
}
