package io.pipefill.controlplane.cluster;

import java.util.List;

/** A node with the workers registered on it (the answer to GET /api/v1/nodes/{id}). */
record NodeDetails(Node node, List<Worker> workers) {
}
