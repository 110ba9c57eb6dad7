package io.pipefill.controlplane.kubernetes;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Worker discovery in a Kubernetes cluster ({@code pipefill.kubernetes.*}).
 *
 * @param enabled           reconcile registrations with worker pods; off outside a cluster
 * @param namespace         where worker pods run; blank means the client's namespace (the control plane's own
 *                          pod namespace when in a cluster), else {@code default}
 * @param workerSelector    label selector that finds worker pods ({@code k=v,k2=v2}, any Kubernetes selector)
 * @param reconcileInterval how often pods and registrations are compared (also the delay of the first pass)
 * @param registrationGrace how long a Running pod may go without registering before it is reported
 */
@ConfigurationProperties("pipefill.kubernetes")
public record KubernetesProperties(boolean enabled, String namespace, String workerSelector,
                                   Duration reconcileInterval, Duration registrationGrace) {
    public static final String DEFAULT_SELECTOR = "app.kubernetes.io/component=pipefill-worker";

    public KubernetesProperties {
        if (workerSelector == null || workerSelector.isBlank()) {
            workerSelector = DEFAULT_SELECTOR;
        }
        if (reconcileInterval == null) {
            reconcileInterval = Duration.ofSeconds(5);
        }
        if (registrationGrace == null) {
            registrationGrace = Duration.ofMinutes(2);
        }
        if (reconcileInterval.isNegative() || reconcileInterval.isZero()) {
            throw new IllegalArgumentException("pipefill.kubernetes.reconcile-interval must be positive, got " + reconcileInterval);
        }
        if (registrationGrace.isNegative()) {
            throw new IllegalArgumentException("pipefill.kubernetes.registration-grace must not be negative, got " + registrationGrace);
        }
    }
}
