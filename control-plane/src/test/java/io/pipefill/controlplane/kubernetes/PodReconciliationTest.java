package io.pipefill.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The replaced-pod rule, which fabric8's CRUD server cannot stage (it owns creationTimestamp). */
class PodReconciliationTest {
    private static final Instant T0 = Instant.parse("2026-11-27T12:00:00Z");

    @Test
    void aPodRecreatedUnderTheSameNameAfterTheRegistrationTakesTheOldWorkerDown() {
        Worker old = worker("worker-0", T0);
        WorkerPod recreated = new WorkerPod("worker-0", "Running", false, T0.plusSeconds(60), T0.plusSeconds(61));

        var outcome = PodReconciliation.decide(List.of(old), List.of(recreated), T0.plusSeconds(70), Duration.ofMinutes(2));

        assertThat(outcome.lost()).singleElement().satisfies(l -> {
            assertThat(l.worker()).isEqualTo(old);
            assertThat(l.reason()).startsWith("pod was replaced");
        });
        // the new pod is still within its grace: waiting for its own registration, not reported
        assertThat(outcome.awaitingRegistration()).containsExactly("worker-0");
        assertThat(outcome.unregistered()).isEmpty();
    }

    @Test
    void clockSkewWithinTheMarginIsNotAReplacement() {
        // the API server's clock runs 20 s ahead of ours: the pod seems created after its worker registered
        Worker w = worker("worker-0", T0);
        WorkerPod same = new WorkerPod("worker-0", "Running", false, T0.plusSeconds(20), T0.plusSeconds(21));

        var outcome = PodReconciliation.decide(List.of(w), List.of(same), T0.plusSeconds(30), Duration.ofMinutes(2));

        assertThat(outcome.lost()).isEmpty();
        assertThat(outcome.registered()).extracting(KubernetesView.RegisteredPod::pod).containsExactly("worker-0");
    }

    @Test
    void aPodBeingDeletedLosesItsWorkerEvenWhileStillRunning() {
        Worker w = worker("worker-0", T0);
        WorkerPod terminating = new WorkerPod("worker-0", "Running", true, T0.minusSeconds(5), T0.minusSeconds(5));

        var outcome = PodReconciliation.decide(List.of(w), List.of(terminating), T0.plusSeconds(30), Duration.ZERO);

        assertThat(outcome.lost()).extracting(PodReconciliation.Lost::reason).containsExactly("pod is being deleted");
        assertThat(outcome.unregistered()).isEmpty(); // a terminating pod is not expected to register
    }

    private static Worker worker(String pod, Instant registeredAt) {
        return new Worker(UUID.randomUUID(), UUID.randomUUID(), "cpu", "http://10.0.0.1:9000", pod, WorkerState.READY, null,
                registeredAt, registeredAt);
    }
}
