package io.pipefill.controlplane.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.springframework.core.env.StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.cli.local.UpCommand;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.worker.agent.AgentOptions;
import io.pipefill.worker.backends.Backends;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ClassPathResource;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The Helm chart ({@code charts/pipefill}) linted and rendered by Helm itself (helm-java: Helm's Go code as a
 * native library), against fabric8's in-memory API server, which answers the chart's {@code lookup} of an
 * earlier install's tokens. The rendered objects are then held against the code they start: the containers'
 * arguments parse with the real {@code pipefill up} and {@code pipefill worker} command lines, their environment
 * binds to the control plane's properties by Spring Boot's own rules (with the real application.yml), and the
 * worker selector the control plane ends up with finds exactly the pods the worker StatefulSet makes, whose
 * registrations the reconciler then accepts.
 *
 * <p>Helm's template command takes its cluster from {@code $KUBECONFIG}; the surefire configuration points it at
 * a file this test writes, so that Helm never talks to a real cluster, nor to localhost:8080 (its fallback, where
 * a local control plane may well listen).
 */
class HelmChartTest {
    private static final Path CHART = Path.of("..", "charts", "pipefill");
    private static final String RELEASE = "pf";
    private static final String NAMESPACE = "pf-ns";

    private static InMemoryCluster cluster;
    private static KubernetesClient k8s;

    @BeforeAll
    static void startApiServer() throws IOException {
        assertThat(CHART.resolve("Chart.yaml")).as("the chart, relative to the cli module").exists();
        cluster = InMemoryCluster.start();
        k8s = cluster.client();
    }

    @AfterAll
    static void stopApiServer() throws IOException {
        cluster.close();
    }

    @AfterEach
    void forgetClusterObjects() {
        k8s.secrets().inNamespace(NAMESPACE).list().getItems().forEach(s -> k8s.resource(s).delete());
        k8s.pods().inNamespace(NAMESPACE).list().getItems().forEach(p -> k8s.resource(p).delete());
    }

    @Test
    void passesHelmLintInStrictMode() {
        LintResult lint = new Helm(CHART).lint().strict().call();

        assertThat(lint.isFailed()).as("helm lint --strict: %s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[ERROR]") || m.contains("[WARNING]"));
    }

    @Test
    void defaultsGiveOneControlPlaneOnItsDatabaseVolumeAndTwoCpuWorkersWiredTogether() {
        Rendered r = render(Map.of());

        assertThat(r.objects()).extracting(HasMetadata::getKind).containsExactlyInAnyOrder("ServiceAccount", "Role",
                "RoleBinding", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "Service", "StatefulSet",
                "NetworkPolicy", "NetworkPolicy");
        assertThat(r.objects()).allSatisfy(o ->
                assertThat(o.getMetadata().getLabels()).containsEntry("app.kubernetes.io/instance", RELEASE));

        Deployment controlPlane = r.one(Deployment.class);
        assertThat(controlPlane.getSpec().getReplicas()).isEqualTo(1);
        assertThat(controlPlane.getSpec().getStrategy().getType())
                .as("one pod at a time on the embedded database's volume").isEqualTo("Recreate");
        var cpPod = controlPlane.getSpec().getTemplate().getSpec();
        assertThat(cpPod.getTerminationGracePeriodSeconds()).as("time to record the runs in flight, then drain")
                .isGreaterThanOrEqualTo(45L);
        assertThat(cpPod.getServiceAccountName()).isEqualTo(r.one(ServiceAccount.class).getMetadata().getName());
        assertThat(cpPod.getVolumes()).filteredOn(v -> v.getName().equals("data")).singleElement()
                .satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName())
                        .isEqualTo(r.one(PersistentVolumeClaim.class).getMetadata().getName()));
        Container cp = cpPod.getContainers().get(0);
        assertThat(cp.getVolumeMounts()).filteredOn(m -> m.getName().equals("data")).singleElement()
                .satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/data"));
        for (var probe : List.of(cp.getStartupProbe(), cp.getLivenessProbe(), cp.getReadinessProbe())) {
            assertThat(probe.getHttpGet().getPath()).isIn("/actuator/health/liveness", "/actuator/health/readiness");
            assertThat(cp.getPorts()).extracting(p -> p.getName()).contains(probe.getHttpGet().getPort().getStrVal());
        }

        StatefulSet workers = r.one(StatefulSet.class);
        assertThat(workers.getSpec().getReplicas()).isEqualTo(2);
        var workerPod = workers.getSpec().getTemplate().getSpec();
        assertThat(workerPod.getAutomountServiceAccountToken()).as("workers need no API access").isFalse();
        assertThat(workerPod.getContainers().get(0).getResources().getLimits()).doesNotContainKey("nvidia.com/gpu");
        assertThat(workerPod.getVolumes()).extracting(v -> v.getName()).containsExactly("join-token", "tmp");

        // each workload's selector picks its own pods, each Service one workload's, by a port that pod has
        for (var workload : List.of(new Workload(controlPlane.getSpec().getSelector().getMatchLabels(),
                        controlPlane.getSpec().getTemplate()),
                new Workload(workers.getSpec().getSelector().getMatchLabels(), workers.getSpec().getTemplate()))) {
            assertThat(workload.template().getMetadata().getLabels()).containsAllEntriesOf(workload.selector());
        }
        for (Service service : r.all(Service.class)) {
            PodTemplateSpec target = service.getSpec().getSelector().get("app.kubernetes.io/component")
                    .equals("pipefill-worker") ? workers.getSpec().getTemplate() : controlPlane.getSpec().getTemplate();
            assertThat(target.getMetadata().getLabels()).containsAllEntriesOf(service.getSpec().getSelector());
            assertThat(target.getSpec().getContainers().get(0).getPorts()).extracting(p -> p.getName())
                    .contains(service.getSpec().getPorts().get(0).getTargetPort().getStrVal());
        }
        Service headless = r.named(Service.class, workers.getSpec().getServiceName());
        assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");

        // the control plane's account may list and watch pods (the reconciler) and services (discovery)
        RoleBinding binding = r.one(RoleBinding.class);
        assertThat(binding.getRoleRef().getName()).isEqualTo(r.one(Role.class).getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getName()).isEqualTo(cpPod.getServiceAccountName());
            assertThat(s.getNamespace()).isEqualTo(NAMESPACE);
        });
        PolicyRule core = r.one(Role.class).getRules().stream().filter(rule -> rule.getApiGroups().contains(""))
                .findFirst().orElseThrow();
        assertThat(core.getResources()).contains("pods", "services", "endpoints");
        assertThat(core.getVerbs()).contains("get", "list", "watch");
    }

    @Test
    void controlPlaneArgumentsAndEnvironmentAreTheOnesTheServiceReads() {
        Rendered r = render(Map.of("controlPlane.port", 8181, "controlPlane.kubernetes.reconcileInterval", "7s"));
        Container cp = r.one(Deployment.class).getSpec().getTemplate().getSpec().getContainers().get(0);

        assertThat(cp.getCommand()).containsExactly("pipefill");
        assertThat(cp.getArgs().get(0)).isEqualTo("up");
        ParseResult up = new CommandLine(new UpCommand())
                .parseArgs(cp.getArgs().subList(1, cp.getArgs().size()).toArray(String[]::new));
        assertThat(up.matchedOptionValue("--port", 0)).isEqualTo(8181);
        assertThat(up.matchedOptionValue("--local-workers", -1)).isEqualTo(0);
        assertThat(up.matchedOptionValue("--model", "")).isEqualTo("none");
        assertThat(up.matchedOptionValue("--data-dir", Path.of(""))).isEqualTo(Path.of("/data"));
        assertThat(up.matchedOptionValue("--bind", "")).as("reachable by the Service and the probes").isEqualTo("0.0.0.0");

        Binder service = springBinder(environment(cp, r, null));
        assertThat(service.bind("server.port", Integer.class).get()).isEqualTo(8181);
        assertThat(service.bind("spring.cloud.kubernetes.discovery.enabled", Boolean.class).get()).isTrue();
        KubernetesProperties kubernetes = service.bindOrCreate("pipefill.kubernetes", KubernetesProperties.class);
        assertThat(kubernetes.enabled()).isTrue();
        assertThat(kubernetes.namespace()).isEqualTo(NAMESPACE);
        assertThat(kubernetes.reconcileInterval()).isEqualTo(Duration.ofSeconds(7));
        assertThat(kubernetes.registrationGrace()).isEqualTo(Duration.ofMinutes(2));
        PipefillProperties pipefill = service.bindOrCreate("pipefill", PipefillProperties.class);
        assertThat(pipefill.dataDir()).isEqualTo(Path.of("/data"));
        assertThat(pipefill.db().external()).as("embedded database by default").isFalse();
        assertThat(service.bind("pipefill.models-root", Path.class).get()).as("models are registered from here only")
                .isEqualTo(Path.of("/models"));
        // the tokens are files where the control plane reads them when no property sets them, not variables
        assertThat(cp.getEnv()).extracting(EnvVar::getName).doesNotContain("PIPEFILL_ADMIN_TOKEN", "PIPEFILL_JOIN_TOKEN");
        assertThat(pipefill.adminToken()).isBlank();
        assertThat(pipefill.joinToken()).isBlank();
        Map<String, String> tokens = decodedData(r.named(Secret.class, RELEASE + "-pipefill-tokens"));
        Map<String, String> files = mountedSecretFiles(r.one(Deployment.class).getSpec().getTemplate(), cp, r);
        assertThat(tokens.get("admin-token")).hasSize(40)
                .isEqualTo(files.get(pipefill.dataDir().resolve("admin-token").toString()));
        assertThat(tokens.get("join-token")).hasSize(40)
                .isEqualTo(files.get(pipefill.dataDir().resolve("join-token").toString()))
                .isNotEqualTo(tokens.get("admin-token"));
    }

    @Test
    void controlPlaneFindsExactlyTheWorkerPodsAndAcceptsTheirRegistrations() {
        Rendered r = render(Map.of("worker.replicas", 3));
        Deployment controlPlane = r.one(Deployment.class);
        StatefulSet workers = r.one(StatefulSet.class);
        Instant started = Instant.now();

        // what the StatefulSet and Deployment controllers would start from the templates
        List<Pod> workerPods = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            workerPods.add(startPod(workers.getMetadata().getName() + "-" + i, workers.getSpec().getTemplate(),
                    "10.0.0." + (10 + i), "gpu-node-" + i, started));
        }
        startPod(controlPlane.getMetadata().getName() + "-5d4f7", controlPlane.getSpec().getTemplate(), "10.0.1.1",
                "cpu-node", started);

        Container cp = controlPlane.getSpec().getTemplate().getSpec().getContainers().get(0);
        Binder service = springBinder(environment(cp, r, null));
        KubernetesProperties discovery = service.bindOrCreate("pipefill.kubernetes", KubernetesProperties.class);
        PipefillProperties pipefill = service.bindOrCreate("pipefill", PipefillProperties.class);
        List<Pod> listed = k8s.pods().inNamespace(discovery.namespace()).withLabelSelector(discovery.workerSelector())
                .list().getItems();
        assertThat(listed).extracting(p -> p.getMetadata().getName())
                .containsExactlyInAnyOrder("pf-pipefill-worker-0", "pf-pipefill-worker-1", "pf-pipefill-worker-2");

        // each worker starts as its arguments and environment say, and registers under its pod's name (after the
        // pod was created: a registration older than its pod is one of a replaced pod's worker)
        Service cpService = r.named(Service.class, controlPlane.getMetadata().getName());
        List<Worker> registrations = new ArrayList<>();
        for (Pod pod : workerPods) {
            Container container = pod.getSpec().getContainers().get(0);
            Map<String, String> env = environment(container, r, pod);
            AgentOptions agent = workerAgentOptions(container, env,
                    mountedSecretFiles(workers.getSpec().getTemplate(), container, r));
            assertThat(agent.controlPlane()).isEqualTo(URI.create("http://" + cpService.getMetadata().getName() + "."
                    + NAMESPACE + ".svc:" + cpService.getSpec().getPorts().get(0).getPort()));
            assertThat(agent.joinToken()).as("the token the control plane accepts").isEqualTo(
                    mountedSecretFiles(controlPlane.getSpec().getTemplate(), cp, r).get(pipefill.dataDir().resolve("join-token").toString()))
                    .isNotBlank();
            assertThat(agent.agentHost()).isEqualTo(pod.getStatus().getPodIP());
            assertThat(agent.agentPort()).isEqualTo(container.getPorts().get(0).getContainerPort());
            assertThat(agent.nodeName()).isEqualTo(pod.getSpec().getNodeName());
            assertThat(agent.backendKind()).isEqualTo(Backends.Kind.cpu);
            assertThat(env.get("POD_NAME")).isEqualTo(pod.getMetadata().getName());
            registrations.add(new Worker(UUID.randomUUID(), UUID.randomUUID(), agent.backend(),
                    "http://" + agent.agentHost() + ":" + agent.agentPort(), env.get("POD_NAME"), WorkerState.IDLE,
                    null, Instant.now(), Instant.now()));
        }
        PodReconciliation.Outcome outcome = PodReconciliation.decide(registrations,
                listed.stream().map(WorkerPod::of).toList(), Instant.now(), discovery.registrationGrace());
        assertThat(outcome.lost()).isEmpty();
        assertThat(outcome.unregistered()).isEmpty();
        assertThat(outcome.registered()).hasSize(3);
    }

    @Test
    void aModelsVolumeIsMountedReadOnlyAtTheModelsRootInTheControlPlaneAndEveryWorker() {
        Rendered r = render(Map.of("models.root", "/srv/models", "models.volume.persistentVolumeClaim.claimName", "models"));
        Container cp = r.one(Deployment.class).getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(springBinder(environment(cp, r, null)).bind("pipefill.models-root", Path.class).get())
                .isEqualTo(Path.of("/srv/models"));
        for (var pod : List.of(r.one(Deployment.class).getSpec().getTemplate().getSpec(),
                r.one(StatefulSet.class).getSpec().getTemplate().getSpec())) {
            assertThat(pod.getContainers().get(0).getVolumeMounts()).filteredOn(m -> m.getName().equals("models"))
                    .singleElement().satisfies(m -> {
                        assertThat(m.getMountPath()).isEqualTo("/srv/models");
                        assertThat(m.getReadOnly()).isTrue();
                    });
            assertThat(pod.getVolumes()).filteredOn(v -> v.getName().equals("models")).singleElement()
                    .satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("models"));
        }
        assertThat(render(Map.of()).one(StatefulSet.class).getSpec().getTemplate().getSpec().getVolumes())
                .as("no models volume unless one is given").noneMatch(v -> v.getName().equals("models"));
    }

    @Test
    void cudaWorkersGetTheirGpusSharedMemoryAndBackend() {
        Rendered r = render(Map.of("worker.backend", "cuda", "worker.gpusPerPod", 8, "worker.replicas", 4,
                "worker.runtimeClassName", "nvidia"));
        StatefulSet workers = r.one(StatefulSet.class);
        var pod = workers.getSpec().getTemplate().getSpec();
        Container worker = pod.getContainers().get(0);

        assertThat(workers.getSpec().getReplicas()).isEqualTo(4);
        assertThat(pod.getRuntimeClassName()).isEqualTo("nvidia");
        assertThat(worker.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("8"))
                .as("the memory limit is kept beside the GPUs").containsEntry("memory", new Quantity("16Gi"));
        assertThat(worker.getResources().getRequests()).containsEntry("cpu", new Quantity("2"));
        assertThat(worker.getVolumeMounts()).filteredOn(m -> !m.getName().equals("tmp") && !m.getName().equals("join-token")).singleElement().satisfies(m -> {
            assertThat(m.getMountPath()).isEqualTo("/dev/shm");
            assertThat(pod.getVolumes()).filteredOn(v -> v.getName().equals(m.getName())).singleElement().satisfies(v -> {
                assertThat(v.getName()).isEqualTo(m.getName());
                assertThat(v.getEmptyDir().getMedium()).isEqualTo("Memory");
                assertThat(v.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("8Gi"));
            });
        });
        Pod started = startPod("pf-pipefill-worker-0", workers.getSpec().getTemplate(), "10.0.0.7", "h100-node",
                Instant.now());
        assertThat(workerAgentOptions(worker, environment(worker, r, started),
                mountedSecretFiles(workers.getSpec().getTemplate(), worker, r)).backendKind())
                .isEqualTo(Backends.Kind.cuda);
    }

    @Test
    void externalDatabaseSettingsReachTheServiceFromASecret() {
        Rendered r = render(Map.of("database.external", true,
                "database.url", "jdbc:postgresql://db.example:5432/pipefill", "database.password", "s3cret"));

        assertThat(r.all(PersistentVolumeClaim.class)).as("no embedded database volume").isEmpty();
        Deployment controlPlane = r.one(Deployment.class);
        assertThat(controlPlane.getSpec().getReplicas()).isEqualTo(1);
        assertThat(controlPlane.getSpec().getStrategy().getType())
                .as("never two control planes at once, even without the volume").isEqualTo("Recreate");
        assertThat(controlPlane.getSpec().getTemplate().getSpec().getVolumes()).filteredOn(v -> v.getName().equals("data"))
                .singleElement().satisfies(v -> assertThat(v.getEmptyDir()).isNotNull());
        Container cp = controlPlane.getSpec().getTemplate().getSpec().getContainers().get(0);
        PipefillProperties.Db db = springBinder(environment(cp, r, null))
                .bindOrCreate("pipefill", PipefillProperties.class).db();
        assertThat(db.external()).isTrue();
        assertThat(db.url()).isEqualTo("jdbc:postgresql://db.example:5432/pipefill");
        assertThat(db.username()).isEqualTo("pipefill");
        assertThat(db.password()).isEqualTo("s3cret");

        // a Secret of the user's own is referred to, not rendered
        Rendered own = render(Map.of("database.external", true, "database.existingSecret", "team-db"));
        assertThat(own.all(Secret.class)).extracting(s -> s.getMetadata().getName())
                .containsExactly(RELEASE + "-pipefill-tokens");
        Container ownCp = own.one(Deployment.class).getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(ownCp.getEnv()).filteredOn(e -> e.getName().startsWith("PIPEFILL_DB_"))
                .extracting(e -> e.getValueFrom().getSecretKeyRef().getName() + "/"
                        + e.getValueFrom().getSecretKeyRef().getKey())
                .containsExactly("team-db/url", "team-db/username", "team-db/password");
    }

    @Test
    void tokensOfAnEarlierInstallSurviveUpgrades() {
        Rendered install = render(Map.of());
        Secret installed = install.named(Secret.class, RELEASE + "-pipefill-tokens");
        Map<String, String> installedTokens = decodedData(installed);
        assertThat(decodedData(render(Map.of()).named(Secret.class, installed.getMetadata().getName())))
                .as("with no earlier install every render draws new random tokens").isNotEqualTo(installedTokens);

        k8s.secrets().inNamespace(NAMESPACE).resource(new SecretBuilder(installed)
                .editMetadata().withNamespace(NAMESPACE).endMetadata().build()).create();
        Rendered upgrade = render(Map.of("worker.replicas", 5));
        Rendered again = render(Map.of("worker.replicas", 6));

        assertThat(decodedData(upgrade.named(Secret.class, installed.getMetadata().getName())))
                .isEqualTo(installedTokens);
        assertThat(decodedData(again.named(Secret.class, installed.getMetadata().getName())))
                .isEqualTo(installedTokens);
        assertThat(podChecksum(upgrade)).as("kept tokens do not roll the pods").isEqualTo(podChecksum(install))
                .isEqualTo(podChecksum(again));

        Rendered given = render(Map.of("tokens.adminToken", "admin-token-from-values"));
        assertThat(decodedData(given.named(Secret.class, installed.getMetadata().getName())))
                .containsEntry("admin-token", "admin-token-from-values")
                .containsEntry("join-token", installedTokens.get("join-token"));
        assertThat(podChecksum(given)).as("a token changed in the values rolls the pods")
                .isNotEqualTo(podChecksum(install));
    }

    @Test
    void eachComponentRunsItsOwnImageUnlessOneImageIsGivenForAll() {
        // the images images/build makes: the control plane's, the CPU worker's and the CUDA worker's
        Rendered defaults = render(Map.of());
        assertThat(image(defaults.one(Deployment.class).getSpec().getTemplate()))
                .isEqualTo("ghcr.io/pipefill/pipefill-control-plane:0.1.0");
        assertThat(image(defaults.one(StatefulSet.class).getSpec().getTemplate()))
                .isEqualTo("ghcr.io/pipefill/pipefill-worker:0.1.0");
        Rendered cuda = render(Map.of("worker.backend", "cuda", "image.tag", "0.2.0",
                "worker.image.cudaRepository", "registry.example/pf-worker-cuda"));
        assertThat(image(cuda.one(StatefulSet.class).getSpec().getTemplate()))
                .isEqualTo("registry.example/pf-worker-cuda:0.2.0");
        assertThat(image(cuda.one(Deployment.class).getSpec().getTemplate()))
                .isEqualTo("ghcr.io/pipefill/pipefill-control-plane:0.2.0");

        // image.repository: one image for everything, as before there were images of the components' own
        Rendered one = render(Map.of("image.repository", "registry.example/pipefill", "worker.backend", "cuda"));
        assertThat(image(one.one(Deployment.class).getSpec().getTemplate())).isEqualTo("registry.example/pipefill:0.1.0");
        assertThat(image(one.one(StatefulSet.class).getSpec().getTemplate())).isEqualTo("registry.example/pipefill:0.1.0");
    }

    private static String image(PodTemplateSpec template) {
        return template.getSpec().getContainers().get(0).getImage();
    }

    @Test
    void valuesThatCannotWorkAreRefusedWithWhatIsAllowed() {
        assertThatThrownBy(() -> render(Map.of("worker.backend", "gpu")))
                .hasMessageContaining("worker.backend must be cpu or cuda, got \"gpu\"");
        for (Map<String, Object> values : List.<Map<String, Object>>of(Map.of("controlPlane.replicas", 2),
                Map.of("controlPlane.replicas", 3, "database.external", true, "database.url", "jdbc:postgresql://db/p"),
                Map.of("controlPlane.replicas", 0))) {
            // two control planes fail each other's runs: one, whatever the database
            assertThatThrownBy(() -> render(values)).as("%s", values)
                    .hasMessageContaining("controlPlane.replicas must be 1, got " + values.get("controlPlane.replicas"))
                    .hasMessageContaining("two would break each other's runs");
        }
        assertThatThrownBy(() -> render(Map.of("database.external", true)))
                .hasMessageContaining("database.external is true: set database.url");
    }

    @Test
    void everyPodRunsHardenedWithWritablePathsOnVolumesOnly() {
        Rendered r = render(Map.of());
        for (PodTemplateSpec template : List.of(r.one(Deployment.class).getSpec().getTemplate(),
                r.one(StatefulSet.class).getSpec().getTemplate())) {
            var pod = template.getSpec();
            String who = template.getMetadata().getLabels().get("app.kubernetes.io/component");
            assertThat(pod.getSecurityContext().getRunAsNonRoot()).as(who).isTrue();
            assertThat(pod.getSecurityContext().getRunAsUser()).as(who).isPositive();
            assertThat(pod.getSecurityContext().getSeccompProfile().getType()).as(who).isEqualTo("RuntimeDefault");
            for (Container c : pod.getContainers()) {
                var sc = c.getSecurityContext();
                assertThat(sc.getAllowPrivilegeEscalation()).as(who).isFalse();
                assertThat(sc.getReadOnlyRootFilesystem()).as(who).isTrue();
                assertThat(sc.getCapabilities().getDrop()).as(who).containsExactly("ALL");
                assertThat(sc.getCapabilities().getAdd()).as(who).isNullOrEmpty();
                assertThat(sc.getPrivileged()).as(who).isNotEqualTo(Boolean.TRUE);
                // /tmp is writable (the JVM, unpacked native libraries and database binaries), on an emptyDir
                assertThat(c.getVolumeMounts()).as(who).filteredOn(m -> m.getMountPath().equals("/tmp")).singleElement()
                        .satisfies(m -> assertThat(pod.getVolumes()).filteredOn(v -> v.getName().equals(m.getName()))
                                .singleElement().satisfies(v -> assertThat(v.getEmptyDir()).isNotNull()));
            }
        }

        // workers: probes on the agent port (its HTTP routes all need the token)
        StatefulSet workers = r.one(StatefulSet.class);
        Container worker = workers.getSpec().getTemplate().getSpec().getContainers().get(0);
        for (var probe : List.of(worker.getLivenessProbe(), worker.getReadinessProbe())) {
            assertThat(probe).as("worker probe").isNotNull();
            assertThat(probe.getTcpSocket().getPort().getStrVal()).isEqualTo("agent");
            assertThat(worker.getPorts()).extracting(p -> p.getName()).contains("agent");
        }
    }

    @Test
    void networkPoliciesLetOnlyTheControlPlaneReachAgentsAndOnlyPeersReachDataPorts() {
        Rendered r = render(Map.of());
        Deployment controlPlane = r.one(Deployment.class);
        StatefulSet workers = r.one(StatefulSet.class);
        Map<String, String> cpLabels = controlPlane.getSpec().getTemplate().getMetadata().getLabels();
        Map<String, String> workerLabels = workers.getSpec().getTemplate().getMetadata().getLabels();
        Map<String, String> stranger = Map.of("app", "something-else");

        NetworkPolicy forWorkers = policyFor(r, workerLabels);
        assertThat(forWorkers.getSpec().getPolicyTypes()).containsExactly("Ingress");
        int agentPort = workers.getSpec().getTemplate().getSpec().getContainers().get(0).getPorts().get(0).getContainerPort();
        assertThat(allows(forWorkers, cpLabels, "agent")).as("control plane → agent port").isTrue();
        assertThat(allows(forWorkers, workerLabels, "agent")).as("worker → another worker's agent port").isFalse();
        assertThat(allows(forWorkers, stranger, "agent")).as("any other pod → agent port").isFalse();
        assertThat(allows(forWorkers, workerLabels, "41234")).as("peer → data port").isTrue();
        assertThat(allows(forWorkers, stranger, "41234")).as("any other pod → data port").isFalse();
        assertThat(allows(forWorkers, cpLabels, "41234")).as("control plane → data port").isFalse();
        assertThat(allows(forWorkers, workerLabels, String.valueOf(agentPort))).as("peer → agent port by number").isFalse();
        assertThat(allows(forWorkers, workerLabels, String.valueOf(agentPort + 1))).isTrue();
        assertThat(allows(forWorkers, workerLabels, String.valueOf(agentPort - 1))).isTrue();

        NetworkPolicy forCp = policyFor(r, cpLabels);
        assertThat(allows(forCp, stranger, "http")).as("API open to clients by default (tokens guard it)").isTrue();
        assertThat(allows(forCp, stranger, "5432")).as("nothing but the API port").isFalse();

        Rendered restricted = render(Map.of("controlPlane.apiClients[0].podSelector.matchLabels.role", "pipefill-client"));
        NetworkPolicy narrowed = policyFor(restricted, cpLabels);
        assertThat(allows(narrowed, Map.of("role", "pipefill-client"), "http")).isTrue();
        assertThat(allows(narrowed, workerLabels, "http")).as("the workers still register and report").isTrue();
        assertThat(allows(narrowed, stranger, "http")).isFalse();

        assertThat(render(Map.of("networkPolicy.enabled", false)).all(NetworkPolicy.class)).isEmpty();
    }

    @Test
    void theTokensSecretOutlivesAnUninstallAndAnExistingOneIsMountedAsIs() {
        Secret generated = render(Map.of()).named(Secret.class, RELEASE + "-pipefill-tokens");
        assertThat(generated.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");

        // GitOps: a Secret made outside the chart is referred to, never rendered (so never redrawn)
        Rendered own = render(Map.of("tokens.existingSecret", "team-tokens"));
        assertThat(own.all(Secret.class)).isEmpty();
        PodTemplateSpec cp = own.one(Deployment.class).getSpec().getTemplate();
        assertThat(cp.getSpec().getVolumes()).filteredOn(v -> v.getSecret() != null).extracting(v -> v.getSecret().getSecretName())
                .containsExactly("team-tokens");
        PodTemplateSpec worker = own.one(StatefulSet.class).getSpec().getTemplate();
        assertThat(worker.getSpec().getVolumes()).filteredOn(v -> v.getSecret() != null)
                .extracting(v -> v.getSecret().getSecretName()).containsExactly("team-tokens");
    }

    // --- helpers ---

    private record Workload(Map<String, String> selector, PodTemplateSpec template) {
    }

    /** The objects of one {@code helm template}, typed by fabric8. */
    private record Rendered(List<HasMetadata> objects) {
        <T extends HasMetadata> List<T> all(Class<T> kind) {
            return objects.stream().filter(kind::isInstance).map(kind::cast).toList();
        }

        <T extends HasMetadata> T one(Class<T> kind) {
            List<T> all = all(kind);
            assertThat(all).as("rendered %s objects", kind.getSimpleName()).hasSize(1);
            return all.get(0);
        }

        <T extends HasMetadata> T named(Class<T> kind, String name) {
            return all(kind).stream().filter(o -> o.getMetadata().getName().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no rendered " + kind.getSimpleName() + " named " + name));
        }
    }

    private static Rendered render(Map<String, Object> values) {
        TemplateCommand template = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE);
        values.forEach(template::set);
        String manifest = template.call();
        return new Rendered(k8s.load(new ByteArrayInputStream(manifest.getBytes(UTF_8))).items());
    }

    /** The NetworkPolicy that selects pods with these labels (exactly one). */
    private static NetworkPolicy policyFor(Rendered r, Map<String, String> podLabels) {
        List<NetworkPolicy> selecting = r.all(NetworkPolicy.class).stream()
                .filter(p -> podLabels.entrySet().containsAll(p.getSpec().getPodSelector().getMatchLabels().entrySet()))
                .toList();
        assertThat(selecting).as("NetworkPolicies selecting %s", podLabels).hasSize(1);
        return selecting.get(0);
    }

    /**
     * Whether a policy's ingress rules admit a connection from a pod of this release's namespace with these labels
     * to the named (or numbered) port, as the NetworkPolicy API defines it: any rule whose "from" (absent: anyone)
     * and "ports" (absent: every port) both match.
     */
    private static boolean allows(NetworkPolicy policy, Map<String, String> fromLabels, String port) {
        for (var rule : policy.getSpec().getIngress()) {
            boolean fromOk = rule.getFrom() == null || rule.getFrom().isEmpty() || rule.getFrom().stream().anyMatch(peer ->
                    peer.getPodSelector() != null && peer.getNamespaceSelector() == null && peer.getIpBlock() == null
                            && fromLabels.entrySet().containsAll(peer.getPodSelector().getMatchLabels().entrySet()));
            boolean portOk = rule.getPorts() == null || rule.getPorts().isEmpty() || rule.getPorts().stream().anyMatch(p -> {
                if (p.getPort().getStrVal() != null) {
                    return port.equals(p.getPort().getStrVal());
                }
                // a number, or a range up to endPort; a named port is matched by name only (the agent is "agent")
                int from = p.getPort().getIntVal();
                int to = p.getEndPort() == null ? from : p.getEndPort();
                return port.chars().allMatch(Character::isDigit) && Integer.parseInt(port) >= from && Integer.parseInt(port) <= to;
            });
            if (fromOk && portOk) {
                return true;
            }
        }
        return false;
    }

    /** The files a container sees from Secret volumes, by absolute path, as the kubelet would mount them. */
    private static Map<String, String> mountedSecretFiles(PodTemplateSpec template, Container container, Rendered r) {
        return Kubelet.mountedSecretFiles(template.getSpec(), container, name -> r.named(Secret.class, name));
    }

    private static Map<String, String> decodedData(Secret secret) {
        return Kubelet.decodedData(secret);
    }

    private static String podChecksum(Rendered r) {
        return r.one(Deployment.class).getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/secrets");
    }

    /** A pod as a controller would start it from a template, scheduled and running. */
    private static Pod startPod(String name, PodTemplateSpec template, String ip, String node, Instant at) {
        Pod pod = new PodBuilder()
                .withMetadata(new ObjectMetaBuilder(template.getMetadata()).withName(name).withNamespace(NAMESPACE)
                        .build())
                .withSpec(template.getSpec()).editSpec().withNodeName(node).endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).withStartTime(at.toString()).endStatus()
                .build();
        return k8s.pods().inNamespace(NAMESPACE).resource(pod).create();
    }

    /**
     * A container's environment as the kubelet would give it: literal values, keys of the rendered Secrets, and
     * the downward-API fields of {@code pod} (null for a container whose env must not need them).
     */
    private static Map<String, String> environment(Container container, Rendered r, Pod pod) {
        return Kubelet.environment(container, name -> r.named(Secret.class, name), pod);
    }

    /**
     * Spring Boot's view of a container environment: it stands in for the process environment in front of the
     * real application.yml, so that relaxed binding ({@code PIPEFILL_KUBERNETES_RECONCILE_INTERVAL} →
     * {@code pipefill.kubernetes.reconcile-interval}) and the yml's placeholders apply as in the pod.
     */
    private static Binder springBinder(Map<String, String> containerEnv) {
        StandardEnvironment environment = new StandardEnvironment();
        MutablePropertySources sources = environment.getPropertySources();
        sources.replace(SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                new SystemEnvironmentPropertySource(SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, new HashMap<>(containerEnv)));
        try {
            new YamlPropertySourceLoader().load("application.yml", new ClassPathResource("application.yml"))
                    .forEach(sources::addLast);
        } catch (IOException e) {
            throw new AssertionError("cannot read application.yml", e);
        }
        return Binder.get(environment);
    }

    private static AgentOptions workerAgentOptions(Container container, Map<String, String> env,
                                                   Map<String, String> secretFiles) {
        return WorkerContainers.agentOptions(container, env, secretFiles);
    }
}
