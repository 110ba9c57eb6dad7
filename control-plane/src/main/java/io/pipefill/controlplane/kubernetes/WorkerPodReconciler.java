package io.pipefill.controlplane.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.controlplane.kubernetes.KubernetesView.LostWorker;
import io.pipefill.controlplane.kubernetes.KubernetesView.SeenPod;
import io.pipefill.controlplane.kubernetes.PodReconciliation.Lost;
import io.pipefill.controlplane.kubernetes.PodReconciliation.Outcome;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.config.FixedDelayTask;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;

/**
 * Compares worker registrations with the worker pods the API server knows. A registered worker whose pod is
 * gone, not Running, being deleted or replaced is marked LOST at once, without waiting for its heartbeats to
 * time out, and {@link WorkersLost} is published just as the heartbeat sweep publishes it. Running pods that
 * do not register within the grace period are reported in {@link KubernetesView}.
 *
 * <p>Runs on the scheduler thread (blocking calls are fine there, never on an event loop); registered through
 * {@link SchedulingConfigurer} so the interval is the bound {@code Duration}, like the heartbeat sweep's.
 */
public class WorkerPodReconciler implements SchedulingConfigurer, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WorkerPodReconciler.class);

    private final KubernetesClient client;
    private final boolean ownsClient;
    private final ClusterRepository cluster;
    private final ApplicationEventPublisher events;
    private final KubernetesView view;
    private final KubernetesProperties props;
    private final Clock clock;
    private final String namespace;
    /** Pods already warned about as unregistered, so the log says it once per pod, not every pass. */
    private final Set<String> warnedUnregistered = new HashSet<>();

    /** @param ownsClient close the client with this bean (true when it was built for it, not Spring's) */
    public WorkerPodReconciler(KubernetesClient client, boolean ownsClient, ClusterRepository cluster, ApplicationEventPublisher events,
                               KubernetesView view, KubernetesProperties props, Clock clock) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.cluster = cluster;
        this.events = events;
        this.view = view;
        this.props = props;
        this.clock = clock;
        this.namespace = props.namespace() != null && !props.namespace().isBlank() ? props.namespace()
                : client.getNamespace() != null ? client.getNamespace() : "default";
        view.started(namespace, props.workerSelector());
        log.info("kubernetes: reconciling workers with pods matching '{}' in namespace {} every {}", props.workerSelector(),
                namespace, props.reconcileInterval());
    }

    /** Every reconcile interval, the first pass one interval after start (registrations need a moment). */
    @Override
    public void configureTasks(ScheduledTaskRegistrar registrar) {
        registrar.addFixedDelayTask(new FixedDelayTask(this::scheduled,
                props.reconcileInterval(), props.reconcileInterval()));
    }

    void scheduled() {
        try {
            reconcile();
        } catch (RuntimeException e) {
            // one bad pass (database hiccup) must not stop the schedule
            log.warn("kubernetes: reconcile pass failed: {}", e.toString());
            view.failed(clock.instant(), e.toString());
        }
    }

    /** One pass; returns the workers it marked lost. */
    public List<Worker> reconcile() {
        // Workers are read BEFORE pods are listed: a worker registers only once its pod is Running, so every worker
        // in this list has its pod in the listing that follows. The other order could see a registration whose pod
        // was still Pending a moment earlier and mark a healthy worker lost.
        List<Worker> workers = cluster.workers();
        List<Pod> pods;
        try {
            pods = client.pods().inNamespace(namespace).withLabelSelector(props.workerSelector()).list().getItems();
        } catch (KubernetesClientException e) {
            // without a pod list nothing can be concluded: mark nothing lost, the heartbeat sweep still runs
            String why = "cannot list pods '" + props.workerSelector() + "' in namespace " + namespace + ": HTTP "
                    + e.getCode() + " " + e.getMessage();
            log.warn("kubernetes: {}; marking nothing lost this pass", why);
            view.failed(clock.instant(), why);
            return List.of();
        }
        Instant now = clock.instant();
        List<WorkerPod> seen = pods.stream().map(WorkerPod::of).toList();
        Outcome outcome = PodReconciliation.decide(workers, seen, now, props.registrationGrace());

        List<Worker> newlyLost = cluster.markLostById(PodReconciliation.ids(outcome.lost()));
        Map<UUID, String> reasons = outcome.lost().stream()
                .collect(Collectors.toMap(l -> l.worker().id(), Lost::reason, (a, b) -> a));
        List<LostWorker> lostViews = new ArrayList<>();
        for (Worker w : newlyLost) {
            String reason = reasons.get(w.id());
            log.warn("kubernetes: worker {} (pod {}, {}) marked LOST: {}", w.id(), w.podName(), w.agentUrl(), reason);
            lostViews.add(new LostWorker(w.id(), w.podName(), reason, now));
        }
        if (!newlyLost.isEmpty()) {
            events.publishEvent(new WorkersLost(newlyLost));
        }

        Set<String> stillUnregistered = outcome.unregistered().stream().map(KubernetesView.UnregisteredPod::pod)
                .collect(Collectors.toSet());
        outcome.unregistered().stream().filter(u -> warnedUnregistered.add(u.pod()))
                .forEach(u -> log.warn("kubernetes: worker pod {} has no registration: {}", u.pod(), u.reason()));
        warnedUnregistered.retainAll(stillUnregistered);

        List<SeenPod> seenViews = seen.stream()
                .map(p -> new SeenPod(p.name(), p.phase(), p.deleting(), p.startedAt()))
                .sorted(Comparator.comparing(SeenPod::name)).toList();
        view.update(new KubernetesView.Snapshot(true, namespace, props.workerSelector(), now, seenViews,
                outcome.registered(), outcome.unregistered(), outcome.awaitingRegistration(), List.of(), null, null),
                lostViews);
        return newlyLost;
    }

    @Override
    public void close() {
        if (ownsClient) {
            client.close();
        }
    }

    String namespace() {
        return namespace;
    }
}
