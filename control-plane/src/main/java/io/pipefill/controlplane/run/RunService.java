package io.pipefill.controlplane.run;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.ModelsRoot;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentService;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.ShardsLoaded;
import io.pipefill.controlplane.metrics.RunMetrics;
import io.pipefill.model.agent.RunReport;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.ModelDirectory;
import jakarta.annotation.PreDestroy;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationContext;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;

/**
 * Accepts runs (validated, tokenized, recorded QUEUED) behind a bulkhead that answers 429 when
 * {@code pipefill.max-runs-in-flight} runs are already queued or running, queues them per deployment (a
 * deployment's ranks run one prefill at a time), cancels them on request, takes in the ranks' reports and
 * fails runs whose workers are lost. Blocking methods: call through {@code Blocking}.
 */
@Service
public class RunService {
    private static final Logger log = LoggerFactory.getLogger(RunService.class);

    private final RunRepository runs;
    private final DeploymentService deployments;
    private final ModelRepository models;
    private final RunExecutor executor;
    private final RunMetrics metrics;
    private final Bulkhead submissions;
    private final PromptResolver prompts;
    private final ModelsRoot modelsRoot;
    private final Map<UUID, ExecutorService> queues = new ConcurrentHashMap<>();
    private final Map<UUID, ActiveRun> active = new ConcurrentHashMap<>();
    private final Map<UUID, Permit> permits = new ConcurrentHashMap<>();
    private final ApplicationContext context;
    private volatile boolean shuttingDown;

    public RunService(RunRepository runs, DeploymentService deployments, ModelRepository models, RunExecutor executor,
                      RunMetrics metrics, BulkheadRegistry bulkheads, PipefillProperties props, PromptLimits promptLimits,
                      ModelsRoot modelsRoot, ApplicationContext context) {
        this.modelsRoot = modelsRoot;
        this.context = context;
        this.runs = runs;
        this.deployments = deployments;
        this.models = models;
        this.executor = executor;
        this.metrics = metrics;
        // a semaphore bulkhead held from submission to the run's end: it bounds queued + running runs
        this.submissions = bulkheads.bulkhead("run-submission", BulkheadConfig.custom()
                .maxConcurrentCalls(props.maxRunsInFlight()).maxWaitDuration(Duration.ZERO).build());
        // tokenizing costs memory in proportion to the text: bound how many texts are tokenized at once
        this.prompts = new PromptResolver(promptLimits, bulkheads.bulkhead("prompt-tokenization", BulkheadConfig.custom()
                .maxConcurrentCalls(promptLimits.concurrentTokenizations()).maxWaitDuration(Duration.ZERO).build()));
    }

    /**
     * Runs left QUEUED or RUNNING by a previous control-plane process cannot finish: the process that gathered their
     * reports is gone. They are recorded FAILED, and a RUNNING one is aborted on its workers (which outlive a control
     * plane and may still be computing it), so that they take the next run. A planned deployment that was measuring
     * its chunk costs then will never get them: it is recorded FAILED too.
     */
    @EventListener(ApplicationReadyEvent.class)
    public void failOrphans() {
        // a planned deployment whose calibration was cut short by the restart would otherwise stay LOADING
        for (Deployment d : deployments.list(false)) {
            if (d.state() == DeploymentState.LOADING && d.planned() && d.calibration() == null) {
                deployments.failUncalibrated(d.id(), "the control plane restarted while deployment " + d.name()
                        + " was measuring its chunk costs; delete it and create it again, or give a calibration");
            }
        }
        for (Run r : runs.unfinished()) {
            if (!active.containsKey(r.id())) {
                runs.failed(r.id(), "the control plane restarted while the run was " + r.state());
                log.warn("run {} failed: the control plane restarted while it was {}", r.id(), r.state());
                if (r.state() == RunState.RUNNING) {
                    executor.abortOrphan(r.deploymentId(), r.id().toString());
                }
            }
        }
    }

    public Run submit(SubmitRunRequest request) {
        return submit(request, RunOptions.DEFAULT);
    }

    /** A run with the OpenAI routes' settings: how its tokens are sampled and how its text is tokenized. */
    public Run submit(SubmitRunRequest request, RunOptions options) {
        Deployment d = deployments.get(request.deployment());
        if (d.state() != DeploymentState.READY) {
            throw new ConflictException("deployment " + d.name() + " is " + d.state()
                    + (d.stateReason() == null ? "" : " (" + d.stateReason() + ")") + "; runs need a READY deployment");
        }
        RegisteredModel model = models.byId(d.modelId()).orElseThrow(() -> new NotFoundException("model", d.modelId()));
        if (shuttingDown) {
            throw new ConflictException("the control plane is shutting down; submit the run again once it is back");
        }
        ModelDirectory md = modelsRoot.open(model.location());
        PromptResolver.Prompt prompt = prompts.resolve(request,
                new PromptResolver.Room(d.name(), d.maxTokens(), request.maxNewTokensOrDefault()), md.config().vocabSize(),
                () -> modelsRoot.tokenizerJson(md).orElseThrow(() -> new IllegalArgumentException("text: the model at "
                        + md.path() + " has no tokenizer.json; give tokenIds or randomTokens instead")),
                options.addSpecialTokens());
        if (!submissions.tryAcquirePermission()) {
            throw BulkheadFullException.createBulkheadFullException(submissions);
        }
        Permit permit = new Permit();
        UUID id = UUID.randomUUID();
        try {
            permits.put(id, permit);
            Run run = runs.insert(id, d.id(), prompt.kind(), prompt.tokens().length, request.maxNewTokensOrDefault());
            queue(d.id()).submit(() -> {
                try {
                    if (shuttingDown) {
                        runs.failed(run.id(), SHUT_DOWN_QUEUED);
                        return;
                    }
                    executor.execute(run, d.id(), prompt.tokens(), options, this::register, active::remove);
                } catch (RuntimeException e) {
                    // whatever escaped the executor (a record gone, the database away) must not leave the run QUEUED
                    log.warn("run {} failed before it started: {}", run.id(), e.toString());
                    runs.failed(run.id(), "the run could not start: " + e.getMessage());
                } finally {
                    permits.remove(run.id());
                    permit.release();
                }
            });
            return run;
        } catch (RuntimeException e) {
            permits.remove(id);
            permit.release();
            throw e;
        }
    }

    /**
     * A planned deployment without a given calibration has loaded its shards: its calibration run (random tokens,
     * seed 0, one generated token, the given mixed chunk sizes) is recorded and queued like any run, outside the
     * bulkhead; the executor fits its timeline and makes the deployment READY (or FAILED). Runs that arrive
     * meanwhile are refused (the deployment is still LOADING), so none can start before the curves exist.
     */
    @EventListener
    public void onShardsLoaded(ShardsLoaded event) {
        Deployment d = deployments.get(event.deploymentId().toString());
        int length = event.calibrationChunks().stream().mapToInt(Integer::intValue).sum();
        ModelDirectory md = modelsRoot.open(models.byId(d.modelId()).orElseThrow(() -> new NotFoundException("model",
                d.modelId())).location());
        int[] tokens = new SplittableRandom(0).ints(length, 0, md.config().vocabSize()).toArray();
        Run run = runs.insert(UUID.randomUUID(), d.id(), PromptKind.RANDOM, length, 1);
        log.info("deployment {}: calibration run {} ({} tokens, chunks {})", d.name(), run.id(), length,
                event.calibrationChunks());
        RunOptions options = RunOptions.calibration(event.calibrationChunks());
        queue(d.id()).submit(() -> {
            try {
                if (shuttingDown) {
                    runs.failed(run.id(), SHUT_DOWN_QUEUED);
                    return;
                }
                executor.execute(run, d.id(), tokens, options, this::register, active::remove);
            } catch (RuntimeException e) {
                log.warn("calibration run {} failed before it started: {}", run.id(), e.toString());
                runs.failed(run.id(), "the run could not start: " + e.getMessage());
            } finally {
                executor.failIfStillUncalibrated(d, run);
            }
        });
    }

    /**
     * Cancels a run. A QUEUED one ends at once and frees its place in the bulkhead (its turn in the queue then
     * passes without a start); a RUNNING one is aborted on every rank by the executor, and this waits up to
     * {@code wait} for its final state. Returns the run as it then is: CANCELLED, still RUNNING when the ranks
     * take longer, or SUCCEEDED/FAILED when it ended before the cancellation reached it. A CANCELLED run stays
     * as it is; cancelling a SUCCEEDED or FAILED run is a conflict.
     */
    public Run cancel(UUID id, Duration wait) {
        Run r = get(id);
        if (r.state() == RunState.CANCELLED) {
            return r;
        }
        if (r.state().finished()) {
            throw new ConflictException("run " + id + " is " + r.state() + "; only QUEUED or RUNNING runs can be cancelled");
        }
        // the executor registers a run as active before it marks it RUNNING, so one of these two sees it
        if (!active.containsKey(id) && runs.cancelledWhileQueued(id, "cancelled while QUEUED")) {
            Permit p = permits.remove(id);
            if (p != null) {
                p.release();
            }
            metrics.recordCancelled(deployments.get(r.deploymentId().toString()).name());
            log.info("run {} cancelled while QUEUED", id);
            return get(id);
        }
        ActiveRun a = active.get(id);
        if (a != null) {
            a.cancel();
            try {
                a.ended.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // still stopping: the caller sees RUNNING and polls
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return get(id);
    }

    /** A submission's bulkhead permit, released once: when its run's turn has passed, or when it is cancelled queued. */
    private final class Permit {
        private final AtomicBoolean released = new AtomicBoolean();

        void release() {
            if (released.compareAndSet(false, true)) {
                submissions.releasePermission();
            }
        }
    }

    private ActiveRun register(UUID runId, List<Worker> workers) {
        ActiveRun a = new ActiveRun(runId, workers);
        active.put(runId, a);
        return a;
    }

    private ExecutorService queue(UUID deploymentId) {
        return queues.computeIfAbsent(deploymentId, id -> Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "runs-" + id.toString().substring(0, 8));
            t.setDaemon(true);
            return t;
        }));
    }

    /** A rank's report: applied to the run in progress and recorded as a run event. */
    public void report(UUID runId, RunReport report) {
        report(runId, List.of(report));
    }

    /**
     * A rank's reports, in order: applied to the run in progress and their events recorded in one
     * transaction, under the run's monitor (see {@link ActiveRun}) so that none lands after its final state.
     * Duplicates of reports already applied (a retried batch) are dropped.
     */
    public void report(UUID runId, List<RunReport> reports) {
        ActiveRun a = active.get(runId);
        boolean taken = a != null && a.applyAndRecord(reports, fresh -> runs.events(runId,
                fresh.stream().filter(r -> !(r.report() instanceof RankReport.Loaded)).map(RunService::eventOf).toList()));
        if (!taken) {
            Run r = runs.byId(runId).orElseThrow(() -> new NotFoundException("run", runId));
            throw new ConflictException("run " + runId + " is " + r.state() + ", not running: report ignored");
        }
    }

    private static RunRepository.NewEvent eventOf(RunReport r) {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("rank", r.rank());
        detail.put("type", r.report().kind());
        if (r.report() instanceof RankReport.Progress p) {
            detail.put("request", p.request());
            detail.put("chunk", p.chunk());
            detail.put("chunks", p.chunks());
            detail.put("done", p.done());
            detail.put("total", p.total());
            return new RunRepository.NewEvent("PROGRESS", detail);
        }
        if (r.report() instanceof RankReport.Token t) {
            detail.put("request", t.request());
            detail.put("index", t.index());
            detail.put("token", t.token());
            return new RunRepository.NewEvent("TOKEN", detail);
        }
        if (r.report() instanceof ChunkingDecision c) {
            detail.put("dynamic", c.dynamicRequested());
            detail.put("base", c.base());
            detail.put("fit", c.fit());
            detail.put("fallbackReason", c.fallbackReason());
        } else if (r.report() instanceof RankReport.Failed f) {
            detail.put("message", f.message());
            return new RunRepository.NewEvent("ERROR", detail);
        }
        return new RunRepository.NewEvent("STAGE", detail);
    }

    /** Runs on a deployment that lost a worker fail at once, naming the worker. */
    @EventListener
    public void onWorkersLost(WorkersLost event) {
        for (Worker w : event.workers()) {
            executor.failRunsUsing(w, active.values());
        }
    }

    public Run get(UUID id) {
        return runs.byId(id).orElseThrow(() -> new NotFoundException("run", id));
    }

    public List<Run> list(String deploymentRef, RunState state, int limit) {
        UUID deploymentId = deploymentRef == null ? null : deployments.get(deploymentRef).id();
        return runs.list(deploymentId, state, limit);
    }

    public float[] logits(UUID id) {
        Run r = get(id);
        return runs.lastLogits(id).orElseThrow(() -> new ConflictException("run " + id + " is " + r.state()
                + " and has no logits" + (r.state().finished() ? "" : " yet")));
    }

    public List<RunEvent> events(UUID id, long after) {
        return runs.events(id, after);
    }

    static final String SHUT_DOWN_QUEUED = "the control plane shut down before the run started";
    static final String SHUT_DOWN_RUNNING = "the control plane shut down while the run was RUNNING";
    /** How long a stopping control plane waits for its runs' final states (aborts sent, records written). */
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(15);

    /**
     * The control plane is stopping (SIGTERM, Ctrl-C, a context close). This runs first, before the web server
     * drains its requests and long before the database stops (it is closed last, with the beans): every run of
     * this process ends recorded, the queued ones FAILED at once, the running ones aborted on their workers by
     * the executor and then FAILED, so that their event streams end with that state and nothing is left RUNNING.
     */
    @EventListener
    public void onClose(ContextClosedEvent event) {
        if (event.getApplicationContext() != context) {
            return; // a child context closing (events propagate to the parent): not this control plane
        }
        shuttingDown = true;
        for (UUID id : permits.keySet()) {
            if (!active.containsKey(id) && runs.failed(id, SHUT_DOWN_QUEUED)) {
                log.warn("run {} failed: {}", id, SHUT_DOWN_QUEUED);
            }
        }
        List<ActiveRun> running = List.copyOf(active.values());
        running.forEach(a -> a.fail(new IllegalStateException(SHUT_DOWN_RUNNING)));
        long deadline = System.nanoTime() + SHUTDOWN_WAIT.toNanos();
        for (ActiveRun a : running) {
            try {
                a.ended.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                log.warn("run {}: its final state was not written within {} s of the shutdown", a.runId,
                        SHUTDOWN_WAIT.toSeconds());
            } catch (ExecutionException e) {
                // ended is only ever completed normally
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Stops the run queues, and waits (bounded) for their threads, so that the database outlives their last write. */
    @PreDestroy
    void stop() {
        queues.values().forEach(ExecutorService::shutdownNow);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        for (ExecutorService q : queues.values()) {
            try {
                q.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
