package io.pipefill.controlplane.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Instant;

/**
 * What the reconciler needs of a worker pod, so that the decisions do not depend on the fabric8 model.
 *
 * @param startedAt when the kubelet started the pod (its {@code status.startTime}), else its creation time
 */
public record WorkerPod(String name, String phase, boolean deleting, Instant createdAt, Instant startedAt) {

    static WorkerPod of(Pod pod) {
        var meta = pod.getMetadata();
        var status = pod.getStatus();
        Instant created = parse(meta.getCreationTimestamp());
        Instant started = status == null ? null : parse(status.getStartTime());
        return new WorkerPod(meta.getName(), status == null || status.getPhase() == null ? "Unknown" : status.getPhase(),
                meta.getDeletionTimestamp() != null, created, started != null ? started : created);
    }

    /** Running and not being deleted: the only state in which its worker can be trusted. */
    public boolean running() {
        return "Running".equals(phase) && !deleting;
    }

    private static Instant parse(String timestamp) {
        return timestamp == null || timestamp.isBlank() ? null : Instant.parse(timestamp);
    }
}
