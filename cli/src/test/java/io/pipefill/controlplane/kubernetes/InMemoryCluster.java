package io.pipefill.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;

/**
 * fabric8's in-memory API server (CRUD, with the discovery documents Helm reads) and a client of it, written to the
 * file {@code $KUBECONFIG} names: Helm's template command takes its cluster (for the chart's {@code lookup}) from
 * there, so it never talks to a real cluster, nor to localhost:8080 (its fallback, where a local control plane may
 * well listen). The surefire configuration points KUBECONFIG into target/.
 */
final class InMemoryCluster implements AutoCloseable {
    private final KubernetesMockServer server;
    private final KubernetesClient client;
    private final Path kubeconfig;

    private InMemoryCluster(KubernetesMockServer server, KubernetesClient client, Path kubeconfig) {
        this.server = server;
        this.client = client;
        this.kubeconfig = kubeconfig;
    }

    static InMemoryCluster start() throws IOException {
        String file = System.getenv("KUBECONFIG");
        assertThat(file).as("KUBECONFIG must name a file this test may write (the surefire configuration sets it)")
                .isNotBlank();
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new DiscoveringCrudDispatcher(), false);
        server.init();
        KubernetesClient client = server.createClient();
        Path kubeconfig = Path.of(file).toAbsolutePath();
        Files.createDirectories(kubeconfig.getParent());
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: in-memory, cluster: {server: "%s"}}]
                contexts: [{name: in-memory, context: {cluster: in-memory, user: test}}]
                current-context: in-memory
                users: [{name: test, user: {token: not-checked}}]
                """.formatted(client.getMasterUrl()));
        return new InMemoryCluster(server, client, kubeconfig);
    }

    KubernetesClient client() {
        return client;
    }

    @Override
    public void close() throws IOException {
        client.close();
        server.destroy();
        Files.deleteIfExists(kubeconfig);
    }
}
