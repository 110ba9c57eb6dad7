package io.pipefill.controlplane.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.pipefill.controlplane.cluster.ClusterRepository;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Worker discovery in a cluster, only with {@code pipefill.kubernetes.enabled=true} (the Helm chart sets it).
 * In a pod, Spring Cloud Kubernetes autoconfigures the fabric8 client (service account token, namespace file);
 * with discovery enabled but no such client (a developer pointing at a cluster from a kubeconfig) one is
 * built here from the usual kubeconfig / environment rules, and closed with the context.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(prefix = "pipefill.kubernetes", name = "enabled", havingValue = "true")
public class KubernetesConfig {
    private static final Logger log = LoggerFactory.getLogger(KubernetesConfig.class);

    @Bean
    public WorkerPodReconciler workerPodReconciler(ObjectProvider<KubernetesClient> clients, ClusterRepository cluster,
                                                   ApplicationEventPublisher events, KubernetesView view,
                                                   KubernetesProperties props) {
        KubernetesClient client = clients.getIfAvailable();
        boolean own = client == null;
        if (own) {
            client = new KubernetesClientBuilder().build();
            log.info("kubernetes: no client bean (not detected as running in a cluster); built one for {}",
                    client.getMasterUrl());
        }
        return new WorkerPodReconciler(client, own, cluster, events, view, props, Clock.systemUTC());
    }
}
