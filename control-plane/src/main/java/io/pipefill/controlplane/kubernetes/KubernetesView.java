package io.pipefill.controlplane.kubernetes;

import io.pipefill.controlplane.cluster.WorkerState;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.stereotype.Component;

/**
 * The last picture the pod reconciler took: worker pods seen, which are registered, which run without a
 * registration and why, and the workers recently marked lost because of their pod. Always present (disabled
 * outside a cluster) so an API can serve {@link #snapshot()} without knowing whether discovery runs. Reading it
 * never touches the database or the API server.
 */
@Component
public class KubernetesView {
    /** Workers marked lost because of their pod, newest first, this many at most. */
    static final int RECENT_LOST = 50;

    private final AtomicReference<Snapshot> current = new AtomicReference<>(Snapshot.DISABLED);
    private final Deque<LostWorker> recentLost = new ArrayDeque<>();

    public Snapshot snapshot() {
        return current.get();
    }

    synchronized void update(Snapshot next, List<LostWorker> newlyLost) {
        newlyLost.forEach(recentLost::addFirst);
        while (recentLost.size() > RECENT_LOST) {
            recentLost.removeLast();
        }
        current.set(next.withRecentlyLost(new ArrayList<>(recentLost)));
    }

    /** Discovery is on but has not listed pods yet. */
    void started(String namespace, String selector) {
        current.set(new Snapshot(true, namespace, selector, null, List.of(), List.of(), List.of(), List.of(), List.of(),
                null, null));
    }

    /** Keeps the previous picture but records why this pass could not be made. */
    synchronized void failed(Instant at, String error) {
        current.set(current.get().withError(at, error));
    }

    /**
     * @param enabled        whether the reconciler runs at all ({@code pipefill.kubernetes.enabled})
     * @param at             when the pods were last listed successfully (null before the first pass)
     * @param pods           every pod the selector matched, in any phase
     * @param registered     pods with a live (not LOST) worker registration
     * @param unregistered   Running pods past the registration grace with no live registration, and why
     * @param awaitingRegistration Running pods still within the grace period
     * @param recentlyLost   workers this reconciler marked LOST, newest first
     * @param error          why the last pass failed (API server unreachable, RBAC), else null; a failed pass
     *                       marks nothing lost
     * @param errorAt        when that pass failed
     */
    public record Snapshot(boolean enabled, String namespace, String selector, Instant at, List<SeenPod> pods,
                           List<RegisteredPod> registered, List<UnregisteredPod> unregistered,
                           List<String> awaitingRegistration, List<LostWorker> recentlyLost, String error,
                           Instant errorAt) {
        static final Snapshot DISABLED = new Snapshot(false, null, null, null, List.of(), List.of(), List.of(), List.of(),
                List.of(), null, null);

        Snapshot withRecentlyLost(List<LostWorker> lost) {
            return new Snapshot(enabled, namespace, selector, at, pods, registered, unregistered, awaitingRegistration,
                    List.copyOf(lost), error, errorAt);
        }

        Snapshot withError(Instant when, String message) {
            return new Snapshot(enabled, namespace, selector, at, pods, registered, unregistered, awaitingRegistration,
                    recentlyLost, message, when);
        }
    }

    public record SeenPod(String name, String phase, boolean deleting, Instant startedAt) {
    }

    public record RegisteredPod(String pod, UUID workerId, WorkerState workerState) {
    }

    public record UnregisteredPod(String pod, Instant runningSince, String reason) {
    }

    public record LostWorker(UUID workerId, String pod, String reason, Instant at) {
    }
}
