package io.pipefill.controlplane.kubernetes;

import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.kubernetes.KubernetesView.RegisteredPod;
import io.pipefill.controlplane.kubernetes.KubernetesView.UnregisteredPod;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The pure part of reconciling: given the registered workers and the worker pods seen, which workers have
 * lost their pod, which pods are registered, and which run without a registration. No I/O, so it is cheap to
 * reason about and to test.
 */
final class PodReconciliation {
    /**
     * A pod created this long after its worker registered is a new pod under the old name (StatefulSets reuse
     * names). The margin absorbs clock skew between the API server and the control plane: without it a skewed
     * clock could mark every fresh registration lost, over and over.
     */
    static final Duration REPLACED_POD_MARGIN = Duration.ofSeconds(30);

    record Lost(Worker worker, String reason) {
    }

    record Outcome(List<Lost> lost, List<RegisteredPod> registered, List<UnregisteredPod> unregistered,
                   List<String> awaitingRegistration) {
    }

    private PodReconciliation() {
    }

    static Outcome decide(List<Worker> workers, Collection<WorkerPod> pods, Instant now, Duration grace) {
        Map<String, WorkerPod> podsByName = new HashMap<>();
        pods.forEach(p -> podsByName.put(p.name(), p));

        List<Lost> lost = new ArrayList<>();
        List<RegisteredPod> registered = new ArrayList<>();
        Map<String, Worker> liveByPod = new HashMap<>();
        Map<String, Worker> lastLostByPod = new HashMap<>();
        for (Worker w : workers) {
            if (w.podName() == null || w.podName().isBlank()) {
                continue; // not a pod (local launcher, bare metal): heartbeats alone decide
            }
            if (w.state() == WorkerState.LOST) {
                lastLostByPod.merge(w.podName(), w, (a, b) -> a.registeredAt().isAfter(b.registeredAt()) ? a : b);
                continue;
            }
            String reason = lostReason(w, podsByName.get(w.podName()));
            if (reason != null) {
                lost.add(new Lost(w, reason));
            } else {
                liveByPod.put(w.podName(), w);
                registered.add(new RegisteredPod(w.podName(), w.id(), w.state()));
            }
        }

        List<UnregisteredPod> unregistered = new ArrayList<>();
        List<String> awaiting = new ArrayList<>();
        pods.stream().filter(WorkerPod::running).filter(p -> !liveByPod.containsKey(p.name()))
                .sorted(Comparator.comparing(WorkerPod::name))
                .forEach(p -> {
                    Duration running = p.startedAt() == null ? Duration.ZERO : Duration.between(p.startedAt(), now);
                    if (running.compareTo(grace) <= 0) {
                        awaiting.add(p.name());
                        return;
                    }
                    Worker previous = lastLostByPod.get(p.name());
                    String why = previous == null
                            ? "Running for " + seconds(running) + " and never registered (grace " + seconds(grace) + ")"
                            : "Running for " + seconds(running) + " but its last registration (worker " + previous.id()
                                    + ") is LOST and it has not registered again (grace " + seconds(grace) + ")";
                    unregistered.add(new UnregisteredPod(p.name(), p.startedAt(), why));
                });
        registered.sort(Comparator.comparing(RegisteredPod::pod));
        return new Outcome(List.copyOf(lost), List.copyOf(registered), List.copyOf(unregistered), List.copyOf(awaiting));
    }

    /** Why a live worker can no longer be trusted, or null when its pod is fine. */
    private static String lostReason(Worker w, WorkerPod pod) {
        if (pod == null) {
            return "pod no longer exists";
        }
        if (pod.deleting()) {
            return "pod is being deleted";
        }
        if (!pod.running()) {
            return "pod phase is " + pod.phase();
        }
        if (pod.createdAt() != null && w.registeredAt() != null
                && pod.createdAt().isAfter(w.registeredAt().plus(REPLACED_POD_MARGIN))) {
            return "pod was replaced (created " + pod.createdAt() + ", after the worker registered at " + w.registeredAt() + ")";
        }
        return null;
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + "s";
    }

    static List<UUID> ids(List<Lost> lost) {
        return lost.stream().map(l -> l.worker().id()).toList();
    }
}
