package io.pipefill.controlplane.cluster;

import java.util.UUID;

/**
 * Who sent a worker-facing request: the worker whose per-worker credential it carried. The authenticated
 * principal of every {@code /api/v1/agent/**} route but the registration, which only the join token admits.
 */
public record WorkerIdentity(UUID workerId) {
}
