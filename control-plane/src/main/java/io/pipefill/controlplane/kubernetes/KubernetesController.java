package io.pipefill.controlplane.kubernetes;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /api/v1/kubernetes}: the last reconciliation of worker pods with registrations (pods seen,
 * registered, unregistered past the grace period and why, workers recently marked lost). In memory: no
 * database or API-server call on the event loop. {@code enabled: false} outside a cluster.
 */
@RestController
class KubernetesController {
    private final KubernetesView view;

    KubernetesController(KubernetesView view) {
        this.view = view;
    }

    @GetMapping("/api/v1/kubernetes")
    KubernetesView.Snapshot snapshot() {
        return view.snapshot();
    }
}
