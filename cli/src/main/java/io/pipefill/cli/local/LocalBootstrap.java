package io.pipefill.cli.local;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.deployment.CreateDeploymentRequest;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentService;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationContext;

/**
 * The one-machine setup of {@code pipefill up}: generates the preset model once (kept in the data
 * directory), registers it, waits for the local workers to join, deploys it across them (PP = number of
 * workers) and prints a request that submits a run. Runs in the background so the API is up meanwhile; it
 * drives the control plane through its own services, as its REST API would.
 */
final class LocalBootstrap {
    private static final Logger log = LoggerFactory.getLogger(LocalBootstrap.class);

    private final String preset;
    private final int maxTokens;
    private final int threads;
    private final int workers;
    private final PipefillProperties props;
    private final ModelRepository models;
    private final ModelRegistrar registrar;
    private final ClusterRepository cluster;
    private final DeploymentService deployments;
    private final Instant started;

    /** Waits for {@code local}'s workers; only workers registered {@code since} count (not an earlier start's). */
    LocalBootstrap(String preset, int maxTokens, int threads, Instant since, LocalCluster local) {
        ApplicationContext context = local.context();
        this.started = since;
        this.preset = preset;
        this.maxTokens = maxTokens;
        this.threads = threads;
        this.workers = local.workers().count();
        this.props = context.getBean(PipefillProperties.class);
        this.models = context.getBean(ModelRepository.class);
        this.registrar = context.getBean(ModelRegistrar.class);
        this.cluster = context.getBean(ClusterRepository.class);
        this.deployments = context.getBean(DeploymentService.class);
    }

    /** Deploys in the background once the API listens on {@code port}. */
    void start(int port) {
        Thread t = new Thread(() -> {
            try {
                bootstrap(port);
            } catch (RuntimeException e) {
                log.error("local setup failed: {}", e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "local-bootstrap");
        t.setDaemon(true);
        t.start();
    }

    private void bootstrap(int port) throws InterruptedException {
        RegisteredModel model = models.byName(preset).orElseGet(() -> registrar.register(preset, generate().toString()));
        List<Worker> mine = awaitWorkers(Duration.ofMinutes(2));
        // a deployment left by an earlier `pipefill up` was placed on that process's workers, which are gone
        for (Deployment old : deployments.list(false)) {
            if (old.name().equals(preset)) {
                log.info("replacing deployment {} of an earlier start (its workers were that process's)", old.name());
                deployments.delete(old.id());
            }
        }
        int pp = Math.min(mine.size(), model.layers());
        List<UUID> ranks = mine.subList(0, pp).stream().map(Worker::id).toList();
        Deployment d = deployments.create(new CreateDeploymentRequest(preset, model.name(), pp, 1, null, 2048, false,
                null, Math.min(maxTokens, model.maxPositions()), threads, "cpu", ranks));
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            Deployment now = deployments.get(d.id().toString());
            if (now.state() == DeploymentState.READY) {
                System.out.printf("%npipefill: deployment %s is READY (%s, PP %d on %d local workers). Submit a run:%n%n"
                                + "  curl -s -H \"Authorization: Bearer %s\" -H 'Content-Type: application/json' \\%n"
                                + "    -d '{\"deployment\":\"%s\",\"randomTokens\":4096,\"maxNewTokens\":8}' \\%n"
                                + "    http://127.0.0.1:%d/api/v1/runs%n%n"
                                + "then poll GET /api/v1/runs/<id> or stream GET /api/v1/runs/<id>/events (same header).%n"
                                + "The admin token is in %s.%n%n", now.name(), model.name(), now.pp(), workers,
                        "$(cat " + props.dataDir().resolve("admin-token") + ")", now.name(), port,
                        props.dataDir().resolve("admin-token"));
                return;
            }
            if (now.state() == DeploymentState.FAILED) {
                log.error("deployment {} failed: {}", now.name(), now.stateReason());
                return;
            }
            Thread.sleep(500);
        }
        log.warn("deployment {} not READY after 5 min; see GET /api/v1/deployments", d.name());
    }

    /** Waits for this process's local workers: registered since it started, and idle. */
    private List<Worker> awaitWorkers(Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            List<Worker> mine = cluster.workers().stream()
                    .filter(w -> w.state() == WorkerState.IDLE && !w.registeredAt().isBefore(started)).toList();
            if (mine.size() >= workers) {
                return mine;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the local workers did not register within " + wait.toSeconds()
                        + " s; see their logs in " + props.dataDir().resolve("logs"));
            }
            Thread.sleep(250);
        }
    }

    /** The preset's model directory under the data directory, generated on first use. */
    private Path generate() {
        Path dir = props.dataDir().resolve("models").resolve(preset);
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return dir;
        }
        try {
            log.info("generating the {} model in {}", preset, dir);
            new ModelGenerator(ModelPreset.fromCliName(preset).config(Architecture.LLAMA), 0).write(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the " + preset + " model to " + dir, e);
        }
    }
}
