package io.pipefill.controlplane.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.pipefill.cli.PipefillCli;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.controlplane.common.Json;
import io.pipefill.model.agent.WorkerRegistration;
import io.pipefill.worker.agent.AgentOptions;
import io.pipefill.worker.backends.Backends;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.simple.JdbcClient;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import tools.jackson.databind.json.JsonMapper;

/**
 * The plain manifests under {@code deploy/} that a user applies with {@code kubectl apply -f}: worker pods (CPU and
 * GPU) that join the control plane of the chart's release "pipefill".
 *
 * <p>They are held against the chart, which is the one source of the worker's command line and environment: each
 * pod's spec must equal the worker StatefulSet's pod template that Helm itself renders (helm-java) for the same
 * backend, field by field, so that a change to either fails here until the other follows. Then the whole
 * walk-through is played against fabric8's in-memory API server: the chart's objects and the manifests applied,
 * the pods started as the scheduler and kubelet would, each worker's registration made from what its container
 * gets (the real {@code pipefill worker} command line with Kubernetes' {@code $(VAR)} expansion, the downward API,
 * the join token from the Secret), recorded by the control plane's real {@link ClusterRepository} in a real
 * PostgreSQL, and the control plane's real {@link WorkerPodReconciler} run on them with the selector the chart
 * gives it.
 */
class KubectlWorkerManifestsTest {
    private static final Path CHART = Path.of("..", "charts", "pipefill");
    private static final Path DEPLOY = Path.of("..", "deploy");
    /** The release and namespace the manifests are written for (see the walk-through in the chart's README). */
    private static final String RELEASE = "pipefill";
    private static final String NAMESPACE = "pipefill";

    private static InMemoryCluster apiServer;
    private static KubernetesClient k8s;
    private static EmbeddedPostgres postgres;
    private static ClusterRepository cluster;

    @BeforeAll
    static void startApiServerAndDatabase() throws IOException {
        apiServer = InMemoryCluster.start();
        k8s = apiServer.client();
        postgres = EmbeddedPostgres.builder().start();
        Flyway.configure().dataSource(postgres.getPostgresDatabase()).locations("classpath:db/migrations").load()
                .migrate();
        cluster = new ClusterRepository(JdbcClient.create(postgres.getPostgresDatabase()),
                new Json(JsonMapper.builder().build()));
    }

    @AfterAll
    static void stopApiServerAndDatabase() throws IOException {
        if (apiServer != null) {
            apiServer.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void eachWorkerPodIsTheChartsWorkerPodTemplateForItsBackend() throws IOException {
        for (var backend : List.of(Map.entry("worker-cpu.yaml", "cpu"), Map.entry("worker-gpu.yaml", "cuda"))) {
            List<HasMetadata> chart = render(Map.of("worker.backend", backend.getValue(),
                    "models.volume.persistentVolumeClaim.claimName", modelsClaim()));
            StatefulSet workers = one(chart, StatefulSet.class);
            Pod manifest = one(load(DEPLOY.resolve(backend.getKey())), Pod.class);

            assertThat(manifest.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
            // the chart's worker labels: the reconciler's selector, the NetworkPolicies and the headless Service find it
            assertThat(manifest.getMetadata().getLabels()).as(backend.getKey())
                    .containsAllEntriesOf(workers.getSpec().getSelector().getMatchLabels());
            // a name that is no ordinal of the StatefulSet, which would otherwise claim the pod as its own
            assertThat(manifest.getMetadata().getName()).doesNotMatch(workers.getMetadata().getName() + "-\\d+");

            // the pod spec is the chart's, but for the ServiceAccount (the chart's workers use the namespace default)
            ServiceAccount account = one(load(DEPLOY.resolve("worker-rbac.yaml")), ServiceAccount.class);
            assertThat(manifest.getSpec().getServiceAccountName()).isEqualTo(account.getMetadata().getName());
            assertThat(account.getAutomountServiceAccountToken()).as("workers need no API access").isFalse();
            PodSpec manifestSpec = new PodSpecBuilder(manifest.getSpec()).withServiceAccountName(null).build();
            assertThat(manifestSpec).as("%s against the chart's worker StatefulSet with worker.backend=%s and the "
                                    + "models claim of models.yaml", backend.getKey(), backend.getValue())
                    .usingRecursiveComparison().isEqualTo(workers.getSpec().getTemplate().getSpec());
        }
    }

    @Test
    void theNamespaceEnforcesTheRestrictedPodSecurityStandardThePodsMeet() throws IOException {
        Namespace namespace = one(load(DEPLOY.resolve("namespace.yaml")), Namespace.class);
        assertThat(namespace.getMetadata().getName()).isEqualTo(NAMESPACE);
        assertThat(namespace.getMetadata().getLabels()).containsEntry("pod-security.kubernetes.io/enforce", "restricted");
        Map<String, PodSpec> pods = new LinkedHashMap<>();
        for (String file : List.of("worker-cpu.yaml", "worker-gpu.yaml")) {
            pods.put(file, one(load(DEPLOY.resolve(file)), Pod.class).getSpec());
        }
        pods.put("models.yaml", one(load(DEPLOY.resolve("models.yaml")), Job.class).getSpec().getTemplate().getSpec());
        for (var entry : pods.entrySet()) {
            String file = entry.getKey();
            PodSpec pod = entry.getValue();
            // what "restricted" requires of a pod and its containers
            assertThat(pod.getSecurityContext().getRunAsNonRoot()).as(file).isTrue();
            assertThat(pod.getSecurityContext().getSeccompProfile().getType()).as(file).isEqualTo("RuntimeDefault");
            assertThat(pod.getHostNetwork()).as(file).isNotEqualTo(Boolean.TRUE);
            assertThat(pod.getVolumes()).as(file).allSatisfy(v -> assertThat(v.getHostPath()).isNull());
            for (Container c : pod.getContainers()) {
                assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).as(file).isFalse();
                assertThat(c.getSecurityContext().getCapabilities().getDrop()).as(file).containsExactly("ALL");
                assertThat(c.getSecurityContext().getPrivileged()).as(file).isNotEqualTo(Boolean.TRUE);
            }
        }
    }

    @Test
    void theModelJobWritesATinyModelWhereTheControlPlaneAndTheWorkersReadModels() throws IOException {
        List<HasMetadata> chart = render(Map.of("models.volume.persistentVolumeClaim.claimName", modelsClaim()));
        Container cp = one(chart, Deployment.class).getSpec().getTemplate().getSpec().getContainers().get(0);
        String modelsRoot = env(cp, "PIPEFILL_MODELS_ROOT");
        assertThat(cp.getVolumeMounts()).filteredOn(m -> m.getName().equals("models")).singleElement()
                .satisfies(m -> assertThat(m.getMountPath()).isEqualTo(modelsRoot));

        PodSpec job = one(load(DEPLOY.resolve("models.yaml")), Job.class).getSpec().getTemplate().getSpec();
        Container create = job.getContainers().get(0);
        assertThat(create.getCommand()).containsExactly("pipefill");
        CommandLine.ParseResult parsed = new CommandLine(new PipefillCli()).parseArgs(create.getArgs().toArray(String[]::new));
        CommandSpec modelCreate = parsed.subcommand().subcommand().commandSpec();
        assertThat(modelCreate.qualifiedName(" ")).isEqualTo("pipefill model create");
        Path out = modelCreate.findOption("--out").getValue();
        assertThat(out.getParent()).as("a model directory right under the models root").isEqualTo(Path.of(modelsRoot));
        assertThat(create.getVolumeMounts()).filteredOn(m -> m.getName().equals("models")).singleElement()
                .satisfies(m -> assertThat(m.getMountPath()).isEqualTo(modelsRoot));
        assertThat(job.getVolumes()).filteredOn(v -> v.getName().equals("models")).singleElement()
                .satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo(modelsClaim()));
        assertThat(one(load(DEPLOY.resolve("models.yaml")), PersistentVolumeClaim.class).getSpec().getAccessModes())
                .as("mounted by the control plane and workers on several nodes").containsExactly("ReadWriteMany");
    }

    @Test
    void appliedWorkersAreMatchedToTheirRegistrationsAndADeletedPodsWorkerIsLost() throws IOException {
        // helm install pipefill charts/pipefill -n pipefill --set worker.replicas=0 --set models.volume...=pipefill-models
        // (the control plane; no chart workers here), then kubectl apply -f deploy/namespace.yaml -f deploy/models.yaml
        // -f deploy/worker-rbac.yaml -f deploy/worker-cpu.yaml -f deploy/worker-gpu.yaml
        List<HasMetadata> chart = render(Map.of("worker.replicas", 0,
                "models.volume.persistentVolumeClaim.claimName", modelsClaim()));
        chart.forEach(KubectlWorkerManifestsTest::apply);
        for (String file : List.of("namespace.yaml", "models.yaml", "worker-rbac.yaml", "worker-cpu.yaml",
                "worker-gpu.yaml")) {
            load(DEPLOY.resolve(file)).forEach(KubectlWorkerManifestsTest::apply);
        }
        Instant started = Instant.now();
        Pod cpu = schedule("pipefill-worker-cpu-a", "10.0.3.10", "cpu-node", started);
        Pod gpu = schedule("pipefill-worker-gpu-a", "10.0.3.11", "gpu-node", started);

        // the control plane as the chart configures it: its selector, its namespace, its join token file
        Container cp = one(chart, Deployment.class).getSpec().getTemplate().getSpec().getContainers().get(0);
        KubernetesProperties props = new KubernetesProperties(true, env(cp, "PIPEFILL_KUBERNETES_NAMESPACE"),
                env(cp, "PIPEFILL_KUBERNETES_WORKER_SELECTOR"), Duration.ofSeconds(5), Duration.ofMinutes(2));
        Secret tokens = k8s.secrets().inNamespace(NAMESPACE).withName(one(chart, Secret.class).getMetadata().getName())
                .get();
        assertThat(tokens).as("the chart's tokens Secret, which the manifests mount").isNotNull();
        String controlPlaneJoinToken = Kubelet.decodedData(tokens).get("join-token");
        URI controlPlaneUrl = URI.create("http://" + one(chart, Deployment.class).getMetadata().getName() + "."
                + NAMESPACE + ".svc:" + env(cp, "PIPEFILL_PORT"));

        // each worker registers as `pipefill worker` would from what its container is given
        Map<String, Worker> workerByPod = new LinkedHashMap<>();
        for (Pod pod : List.of(cpu, gpu)) {
            Container container = pod.getSpec().getContainers().get(0);
            Map<String, String> env = Kubelet.environment(container, name -> k8s.secrets().inNamespace(NAMESPACE)
                    .withName(name).get(), pod);
            AgentOptions agent = WorkerContainers.agentOptions(container, env, Kubelet.mountedSecretFiles(pod.getSpec(),
                    container, name -> k8s.secrets().inNamespace(NAMESPACE).withName(name).get()));
            assertThat(agent.joinToken()).as("the join token the control plane accepts").isEqualTo(controlPlaneJoinToken);
            assertThat(agent.controlPlane()).isEqualTo(controlPlaneUrl);
            assertThat(agent.agentHost()).isEqualTo(pod.getStatus().getPodIP());
            assertThat(agent.nodeName()).isEqualTo(pod.getSpec().getNodeName());
            assertThat(agent.backendKind()).isEqualTo(pod == gpu ? Backends.Kind.cuda : Backends.Kind.cpu);
            String podName = env.get("POD_NAME");
            assertThat(podName).isEqualTo(pod.getMetadata().getName());
            workerByPod.put(podName, cluster.register(new WorkerRegistration(agent.nodeName(), agent.agentHost(), 8,
                    1L << 34, List.of(), agent.labels(), agent.backend(),
                    "http://" + agent.agentHost() + ":" + agent.agentPort(), podName), Instant.now()));
        }

        List<Object> published = new ArrayList<>();
        KubernetesView view = new KubernetesView();
        WorkerPodReconciler reconciler = new WorkerPodReconciler(k8s, false, cluster, published::add, view, props,
                Clock.systemUTC());

        assertThat(reconciler.reconcile()).as("both pods run: nobody lost").isEmpty();
        KubernetesView.Snapshot seen = view.snapshot();
        assertThat(seen.error()).isNull();
        assertThat(seen.pods()).extracting(KubernetesView.SeenPod::name)
                .containsExactly("pipefill-worker-cpu-a", "pipefill-worker-gpu-a");
        assertThat(seen.registered()).containsExactlyInAnyOrder(
                new KubernetesView.RegisteredPod("pipefill-worker-cpu-a", workerByPod.get("pipefill-worker-cpu-a").id(),
                        WorkerState.IDLE),
                new KubernetesView.RegisteredPod("pipefill-worker-gpu-a", workerByPod.get("pipefill-worker-gpu-a").id(),
                        WorkerState.IDLE));
        assertThat(seen.unregistered()).isEmpty();
        assertThat(published).isEmpty();

        // kubectl delete -f deploy/worker-cpu.yaml: its worker is lost at the next pass, not after a heartbeat timeout
        load(DEPLOY.resolve("worker-cpu.yaml")).forEach(o -> k8s.resource(o).delete());
        Worker cpuWorker = workerByPod.get("pipefill-worker-cpu-a");
        assertThat(reconciler.reconcile()).extracting(Worker::id).containsExactly(cpuWorker.id());
        assertThat(cluster.worker(cpuWorker.id()).orElseThrow().state()).isEqualTo(WorkerState.LOST);
        assertThat(cluster.worker(workerByPod.get("pipefill-worker-gpu-a").id()).orElseThrow().state())
                .isEqualTo(WorkerState.IDLE);
        assertThat(published).singleElement().isInstanceOfSatisfying(WorkersLost.class,
                e -> assertThat(e.workers()).extracting(Worker::id).containsExactly(cpuWorker.id()));
        assertThat(view.snapshot().recentlyLost()).singleElement().satisfies(l -> {
            assertThat(l.pod()).isEqualTo("pipefill-worker-cpu-a");
            assertThat(l.reason()).isEqualTo("pod no longer exists");
        });
        assertThat(view.snapshot().registered()).extracting(KubernetesView.RegisteredPod::pod)
                .containsExactly("pipefill-worker-gpu-a");
    }

    @Test
    void theChartsControlPlaneMayListThePodsTheManifestsMake() throws IOException {
        // the reconciler's access is the chart's Role, bound to the control plane's account in this namespace
        List<HasMetadata> chart = render(Map.of());
        Role role = one(chart, Role.class);
        RoleBinding binding = one(chart, RoleBinding.class);
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> assertThat(s.getName())
                .isEqualTo(one(chart, Deployment.class).getSpec().getTemplate().getSpec().getServiceAccountName()));
        assertThat(role.getRules()).anySatisfy(rule -> {
            assertThat(rule.getApiGroups()).contains("");
            assertThat(rule.getResources()).contains("pods");
            assertThat(rule.getVerbs()).contains("list", "watch");
        });
        for (String file : List.of("worker-cpu.yaml", "worker-gpu.yaml")) {
            assertThat(one(load(DEPLOY.resolve(file)), Pod.class).getMetadata().getNamespace())
                    .as("the namespace of the chart's Role").isEqualTo(NAMESPACE);
        }
    }

    // --- helpers ---

    /** The claim deploy/models.yaml makes, which the chart's control plane and the workers mount. */
    private static String modelsClaim() throws IOException {
        return one(load(DEPLOY.resolve("models.yaml")), PersistentVolumeClaim.class).getMetadata().getName();
    }

    private static List<HasMetadata> render(Map<String, Object> values) {
        TemplateCommand template = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE);
        values.forEach(template::set);
        return k8s.load(new ByteArrayInputStream(template.call().getBytes(UTF_8))).items();
    }

    private static List<HasMetadata> load(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return k8s.load(in).items();
        }
    }

    private static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> kind) {
        List<T> all = objects.stream().filter(kind::isInstance).map(kind::cast).toList();
        assertThat(all).as("%s objects", kind.getSimpleName()).hasSize(1);
        return all.get(0);
    }

    /** What {@code kubectl apply} does to one object: create it, or update the one there. */
    private static void apply(HasMetadata object) {
        if (object.getMetadata().getNamespace() == null && !(object instanceof Namespace)) {
            object.getMetadata().setNamespace(NAMESPACE);
        }
        k8s.resource(object).createOr(NonDeletingOperation::update);
    }

    /** What the scheduler and kubelet do to an applied pod: a node, an IP, Running. */
    private static Pod schedule(String name, String ip, String node, Instant at) {
        Pod applied = k8s.pods().inNamespace(NAMESPACE).withName(name).get();
        assertThat(applied).as("applied pod %s", name).isNotNull();
        Pod running = new PodBuilder(applied).editSpec().withNodeName(node).endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).withStartTime(at.toString()).endStatus().build();
        return k8s.pods().inNamespace(NAMESPACE).resource(running).update();
    }

    private static String env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValue).findFirst()
                .orElseThrow(() -> new AssertionError(container.getName() + " has no " + name));
    }
}
