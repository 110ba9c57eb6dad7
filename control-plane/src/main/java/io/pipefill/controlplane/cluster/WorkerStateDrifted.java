package io.pipefill.controlplane.cluster;

import java.util.UUID;

/**
 * A worker's heartbeat disagrees with its placement: it holds a rank of a READY deployment but reports no
 * shard, a failed one, or another deployment's (it was restarted in place, or its shard was released behind
 * the control plane's back). The deployment can no longer run: its listener degrades it with {@code reason}.
 */
public record WorkerStateDrifted(Worker worker, UUID deploymentId, int rank, String reason) {
}
