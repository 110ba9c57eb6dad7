package io.pipefill.controlplane.run;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.agent.AgentClient;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.controlplane.deployment.ChunkCostCalibration;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.controlplane.deployment.PlannedChunking;
import io.pipefill.controlplane.metrics.RunMetrics;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.RunStart;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.RunCollector;
import io.pipefill.model.pipeline.Timeline;
import io.pipefill.model.plan.MeasuredChunkCosts;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Runs one prefill on a deployment's workers: opens every rank's data port, starts every rank with the
 * prompt and its peers' addresses, waits for the ranks' reports, and records the outcome. Any failure
 * aborts the other ranks and fails the run with a reason that names the worker behind it; a cancellation
 * aborts them all and records the run CANCELLED. After an abort it waits for the workers to let go of the run
 * ({@link RunAborter}) before the deployment's next run may start.
 */
@Component
public class RunExecutor {
    private static final Logger log = LoggerFactory.getLogger(RunExecutor.class);

    private final RunRepository runs;
    private final DeploymentRepository deployments;
    private final ClusterRepository cluster;
    private final AgentClient agents;
    private final RunMetrics metrics;
    private final Duration peerTimeout;
    private final Duration runTimeout;
    private final RunAborter aborter;
    private final PlannedChunking planned;

    public RunExecutor(RunRepository runs, DeploymentRepository deployments, ClusterRepository cluster,
                       AgentClient agents, RunMetrics metrics, PipefillProperties props,
                       @Value("${pipefill.run-timeout:2h}") Duration runTimeout, PlannedChunking planned) {
        this.planned = planned;
        this.runs = runs;
        this.deployments = deployments;
        this.cluster = cluster;
        this.agents = agents;
        this.metrics = metrics;
        this.peerTimeout = props.peerTimeout();
        this.runTimeout = runTimeout;
        this.aborter = new RunAborter(agents, peerTimeout);
    }

    void execute(Run run, UUID deploymentId, int[] tokens, RunOptions options, BiFunction<UUID, List<Worker>, ActiveRun> register,
                 Consumer<UUID> unregister) {
        Deployment d = deployments.byId(deploymentId).orElseThrow(() -> new NotFoundException("deployment", deploymentId));
        // a calibration run measures a planned deployment that is still LOADING; every other run needs it READY
        DeploymentState needed = options.calibrates() ? DeploymentState.LOADING : DeploymentState.READY;
        if (d.state() != needed) {
            fail(run, d, "deployment " + d.name() + " became " + d.state()
                    + (d.stateReason() == null ? "" : " (" + d.stateReason() + ")") + " before the run started");
            return;
        }
        List<Integer> schedule;
        try {
            schedule = options.calibrates() ? options.calibrationChunks()
                    : d.planned() ? planned.schedule(d, tokens.length).sizes() : null;
        } catch (RuntimeException e) {
            fail(run, d, e.getMessage());
            return;
        }
        List<Worker> workers = new ArrayList<>();
        for (Placement p : d.placements()) {
            workers.add(cluster.worker(p.workerId()).orElseThrow(() -> new NotFoundException("worker", p.workerId())));
        }
        String runId = run.id().toString();
        ActiveRun active = register.apply(run.id(), workers);
        try {
            if (!runs.started(run.id())) {
                return; // cancelled while it waited in the queue
            }
            if (!active.outcome.isDone()) { // not cancelled, nor a worker lost, since it was registered
                List<DataEndpoint> peers = new ArrayList<>();
                for (Worker w : workers) {
                    peers.add(agents.openRun(w, runId).block());
                }
                // a secret per run, so that each rank's data port admits this run's ranks only
                // an explicit schedule (planned, or the calibration's) goes to every rank; chunk is then its largest
                int chunk = schedule == null ? d.chunkSize() : schedule.stream().mapToInt(Integer::intValue).max().orElseThrow();
                RunStart start = new RunStart(runId, tokens, run.maxNewTokens(), chunk, schedule == null && d.dynamicChunking(),
                        d.sigma(), peers, peerTimeout.toMillis(), RunStart.newDataSecret(), options.sampling(), schedule);
                for (Worker w : workers) {
                    agents.startRun(w, start).block();
                }
            }
            RunCollector.Gathered g = active.outcome.get(runTimeout.toMillis(), TimeUnit.MILLISECONDS);
            RunOutcome o = outcome(d, tokens, g);
            active.close(() -> runs.succeeded(run.id(), o));
            if (options.calibrates()) {
                calibrated(d, run, o);
            }
            metrics.recordRun(d.name(), o.ttftMs(), o.tokensPerSecond(), true);
            log.info("run {} on {}: {} tokens, TTFT {} ms, {} tokens/s", run.id(), d.name(), tokens.length,
                    Math.round(o.ttftMs()), Math.round(o.tokensPerSecond()));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ActiveRun.Cancelled c) {
                stop(workers, runId, active, () -> cancelled(run, d, c.getMessage()));
            } else {
                String reason = e.getCause() instanceof ActiveRun.RankFailed f ? nameTheCulprit(f, workers) : e.getCause().getMessage();
                stop(workers, runId, active, () -> fail(run, d, reason));
            }
        } catch (TimeoutException e) {
            stop(workers, runId, active, () -> fail(run, d, "no result within the run timeout of " + runTimeout.toMinutes() + " min"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            aborter.abort(workers, runId);
            active.close(() -> fail(run, d, "the control plane is shutting down"));
        } catch (RuntimeException e) {
            stop(workers, runId, active, () -> fail(run, d, e.getMessage()));
        } finally {
            active.ended.complete(null); // also when the run never started
            unregister.accept(run.id());
            if (options.calibrates()) {
                runs.byId(run.id()).filter(r -> r.state() != RunState.SUCCEEDED)
                        .ifPresent(r -> calibrationFailed(d, run, r.state() + (r.error() == null ? "" : ": " + r.error())));
            }
        }
    }

    /**
     * Aborts the run on its workers, writes its final state, then waits for the workers to let go of it, so
     * that the deployment's next queued run (which starts when this method returns) finds them free.
     */
    private void stop(List<Worker> workers, String runId, ActiveRun active, Runnable finalWrite) {
        aborter.abort(workers, runId);
        active.close(finalWrite);
        aborter.awaitReleased(workers, runId);
    }

    /**
     * Stops, on the workers of its deployment, a run that an earlier control-plane process left RUNNING: its ranks
     * may still be computing it, and would refuse the next run until they end. Best effort: a worker that does
     * not answer holds nothing.
     */
    void abortOrphan(UUID deploymentId, String runId) {
        deployments.byId(deploymentId).ifPresent(d -> {
            List<Worker> workers = new ArrayList<>();
            for (Placement p : d.placements()) {
                cluster.worker(p.workerId()).ifPresent(workers::add);
            }
            aborter.abort(workers, runId);
        });
    }

    /** A lost worker fails every active run it holds a rank of. */
    void failRunsUsing(Worker lost, Collection<ActiveRun> active) {
        for (ActiveRun a : active) {
            for (int rank = 0; rank < a.workers.size(); rank++) {
                if (a.workers.get(rank).id().equals(lost.id())) {
                    a.fail(new IllegalStateException("worker " + lost.id() + " (rank " + rank + ", " + lost.agentUrl()
                            + ") lost: no heartbeat since " + lost.lastHeartbeat()));
                }
            }
        }
    }

    /**
     * A rank that loses a peer reports first; the worker that actually died is the one that no longer
     * answers. Names it when found, else the reporting rank's own worker.
     */
    private String nameTheCulprit(ActiveRun.RankFailed f, List<Worker> workers) {
        for (int rank = 0; rank < workers.size(); rank++) {
            Worker w = workers.get(rank);
            try {
                agents.status(w).block(Duration.ofSeconds(3));
            } catch (RuntimeException unreachable) {
                return "worker " + w.id() + " (rank " + rank + ", " + w.agentUrl() + ") lost: it no longer answers ("
                        + unreachable.getMessage() + "); rank " + f.rank + " reported: " + f.getMessage();
            }
        }
        Worker w = workers.get(f.rank);
        return "worker " + w.id() + " (rank " + f.rank + ", " + w.agentUrl() + ") failed: " + f.getMessage();
    }

    /**
     * Fits the calibration run's chunk times into the deployment's chunk costs and makes it READY; a fit that fails
     * (or a run that did not run the calibration's chunks) fails the deployment, naming the run and why.
     */
    private void calibrated(Deployment d, Run run, RunOutcome o) {
        try {
            MeasuredChunkCosts costs = MeasuredChunkCosts.fit(new Timeline(d.pp(), o.timeline()), 0);
            // a noisy fit can price some chunk at zero or below, which the optimiser would then seek out
            for (int s = 0; s < d.pp(); s++) {
                String why = PlannedChunking.nonPositive(java.util.Arrays.stream(costs.stageCoefficients()[s]).boxed()
                        .toList(), d.chunkSize(), d.maxTokens());
                if (why != null) {
                    calibrationFailed(d, run, "the fitted chunk cost of stage " + s + " (" + costs.describe() + ") " + why);
                    return;
                }
            }
            deployments.calibrated(d.id(), ChunkCostCalibration.measured(costs, run.id(), o.chunkSchedule()));
            // only from LOADING: a worker lost or drifted meanwhile has made it DEGRADED, and it stays so
            if (deployments.moveState(d.id(), DeploymentState.LOADING, DeploymentState.READY, null)) {
                log.info("deployment {} calibrated and ready: {}", d.name(), costs.describe());
            }
        } catch (RuntimeException e) {
            calibrationFailed(d, run, e.getMessage());
        }
    }

    /**
     * A calibration run's turn has passed: when the deployment is still LOADING without curves (the run failed
     * before the executor took it, or was refused at shutdown), it fails naming the run, instead of staying LOADING.
     */
    void failIfStillUncalibrated(Deployment d, Run run) {
        deployments.byId(d.id()).filter(now -> now.state() == DeploymentState.LOADING && now.calibration() == null)
                .ifPresent(now -> calibrationFailed(d, run, runs.byId(run.id())
                        .map(r -> "it ended " + r.state() + (r.error() == null ? "" : ": " + r.error()))
                        .orElse("it was never recorded")));
    }

    private void calibrationFailed(Deployment d, Run run, String reason) {
        String why = "the calibration run " + run.id() + " that measures the chunk costs of chunking planned failed: "
                + reason + "; delete the deployment and create it again, or give a calibration";
        if (deployments.setState(d.id(), DeploymentState.FAILED, why)) {
            log.warn("deployment {} failed: {}", d.name(), why);
        }
    }

    private void cancelled(Run run, Deployment d, String reason) {
        if (runs.cancelledWhileRunning(run.id(), reason)) {
            metrics.recordCancelled(d.name());
            log.info("run {} on {} {}", run.id(), d.name(), reason);
        }
    }

    private void fail(Run run, Deployment d, String reason) {
        if (runs.failed(run.id(), reason)) {
            metrics.recordRun(d.name(), 0, 0, false);
            log.warn("run {} on {} failed: {}", run.id(), d.name(), reason);
        }
    }

    private RunOutcome outcome(Deployment d, int[] tokens, RunCollector.Gathered g) {
        Timeline timeline = new Timeline(d.pp(), g.events());
        RequestResult result = g.result(0);
        double ttft = result.ttftMs();
        List<Integer> generated = new ArrayList<>();
        for (int t : result.generated()) {
            generated.add(t);
        }
        return new RunOutcome(timeline.chunkSizes(0), ttft, result.endMs(), tokens.length / (ttft / 1000.0),
                timeline.bubbleRatio(0), g.events(), generated.isEmpty() ? -1 : generated.get(0), generated,
                result.lastLogits());
    }
}
