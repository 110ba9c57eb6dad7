package io.pipefill.worker.agent;

import io.pipefill.model.RandomTokens;
import io.pipefill.model.agent.AgentState;
import io.pipefill.model.agent.AgentStatus;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.RunStart;
import io.pipefill.worker.comm.SocketTransport;
import io.pipefill.model.agent.ShardAssignment;
import io.pipefill.model.agent.WorkerRegistration;
import io.pipefill.worker.engine.SystemMemory;
import io.pipefill.worker.pipeline.LoadedStage;
import io.pipefill.worker.pipeline.PipelineSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A long-lived worker that a control plane drives over HTTP: it registers and sends heartbeats, loads the
 * shard it is assigned (once, for many runs), opens a data port per run and runs the pipeline stage when
 * told, posting the run's reports. One shard and one run at a time. State changes happen under this
 * object's lock; loading and running happen on threads of their own, so every HTTP call answers at once.
 */
public final class WorkerAgent implements AutoCloseable {
    private final AgentOptions options;
    private final String advertisedHost;
    private final ControlPlaneClient client;
    private final AgentServer server;
    private final Registrar registrar;
    private final CountDownLatch closed = new CountDownLatch(1);

    // the shard: its checked assignment, state and (when READY) the loaded stage; generation tells a loader
    // that finishes after its assignment was replaced to throw its stage away
    private ShardPlan plan;
    private AgentState shardState = AgentState.IDLE;
    private LoadedStage loaded;
    private String error;
    private long generation;
    // the run opened or in progress, null when none
    private AgentRun run;

    private WorkerAgent(AgentOptions options) throws IOException {
        this.options = options;
        this.advertisedHost = advertisedHost(options);
        // this process's agent token: only the control plane it registers with learns it (the join token, which every
        // worker holds, opens no agent); a restarted process has a new one, which is how the control plane tells
        // a restart at the same address from the worker still being there
        String agentToken = newToken();
        this.client = new ControlPlaneClient(options.controlPlane(), options.joinToken(), agentToken);
        this.server = new AgentServer(InetAddress.getByName(options.agentHost()).getHostAddress(), options.agentPort(),
                new AgentHttp(this, agentToken));
        this.registrar = new Registrar(client, this::registration, this::heartbeat);
    }

    /** Starts the agent API and the registration with the control plane (in the background, retried). */
    public static WorkerAgent start(AgentOptions options) throws IOException {
        WorkerAgent agent = new WorkerAgent(options);
        agent.server.start();
        System.err.println("pipefill agent: API at " + agent.agentUrl() + "; joining the control plane at "
                + options.controlPlane());
        agent.registrar.start();
        return agent;
    }

    /** The URL the control plane reaches this agent's API at. */
    public URI agentUrl() {
        return URI.create("http://" + urlHost(advertisedHost) + ":" + server.address().getPort());
    }

    /** The id the control plane gave this worker, null until registered. */
    public String workerId() {
        return registrar.workerId();
    }

    boolean awaitRegistered(Duration timeout) throws InterruptedException {
        return registrar.awaitRegistered(timeout.toMillis());
    }

    /** Blocks until {@link #close} (the CLI's main thread waits here). */
    public void awaitClosed() throws InterruptedException {
        closed.await();
    }

    public synchronized AgentStatus status() {
        boolean running = running();
        return new AgentStatus(workerId(), running ? AgentState.RUNNING : shardState,
                plan == null ? null : plan.assignment().deploymentId(),
                plan == null ? null : plan.assignment().rank(),
                running ? run.runId() : null, error,
                loaded == null ? 0 : loaded.weightBytes(), loaded == null ? 0 : loaded.kvCacheBytes());
    }

    private Heartbeat heartbeat() {
        AgentStatus s = status();
        return new Heartbeat(s.state(), s.deploymentId(), s.runId());
    }

    private WorkerRegistration registration() {
        return new WorkerRegistration(options.nodeName(), advertisedHost, Runtime.getRuntime().availableProcessors(),
                SystemMemory.totalBytes(), NodeInventory.gpus(), options.labels(), options.backend(),
                agentUrl().toString(), blankToNull(System.getenv("POD_NAME")));
    }

    private boolean running() {
        return run != null && run.started();
    }

    /**
     * Loads the assigned shard in the background. The same assignment while it is LOADING or READY changes
     * nothing; another one replaces (closes) the current shard. Refused while a run is in progress.
     */
    synchronized AgentStatus assign(ShardAssignment a) {
        ShardPlan next = ShardPlan.of(a, options.threads(), options.backendKind());
        if (plan != null && plan.assignment().equals(a)
                && (shardState == AgentState.LOADING || shardState == AgentState.READY)) {
            return status();
        }
        if (running()) {
            throw AgentException.conflict("the worker is RUNNING run " + run.runId() + " of deployment "
                    + plan.assignment().deploymentId() + "; abort it (DELETE /agent/runs/" + run.runId()
                    + ") before assigning another shard");
        }
        dropShard();
        plan = next;
        shardState = AgentState.LOADING;
        long gen = generation;
        Thread loader = new Thread(() -> load(next, gen), "load-" + a.deploymentId() + "-rank-" + a.rank());
        loader.setDaemon(true);
        loader.start();
        return status();
    }

    private void load(ShardPlan p, long gen) {
        long t0 = System.nanoTime();
        try {
            LoadedStage s = p.load();
            // warm up now, without peers: the all-reduces of a TP stage are skipped (the numbers are thrown
            // away, the JIT compiles the same loops), so no run pays for the warm-up and no peer is needed
            s.warmUpLocally();
            synchronized (this) {
                if (gen != generation) {
                    s.close();
                    return;
                }
                loaded = s;
                shardState = AgentState.READY;
            }
            System.err.printf("pipefill agent: loaded rank %d of deployment %s in %.1f s%n", p.assignment().rank(),
                    p.assignment().deploymentId(), (System.nanoTime() - t0) / 1e9);
        } catch (RuntimeException | Error e) {
            String why = "loading rank " + p.assignment().rank() + " of deployment " + p.assignment().deploymentId()
                    + " from " + p.modelDir() + " failed: " + ReportSender.describe(e);
            System.err.println("pipefill agent: " + why);
            synchronized (this) {
                if (gen == generation) {
                    shardState = AgentState.FAILED;
                    error = why;
                }
            }
        }
    }

    /** Closes the shard (back to IDLE); refused while a run is in progress. */
    synchronized AgentStatus releaseShard() {
        if (running()) {
            throw AgentException.conflict("the worker is RUNNING run " + run.runId() + "; abort it (DELETE /agent/runs/"
                    + run.runId() + ") before releasing the shard");
        }
        dropShard();
        return status();
    }

    /** Under the lock, with no run in progress: forget the shard and any opened run, close what is loaded. */
    private void dropShard() {
        if (run != null) {
            run.abort();
            run = null;
        }
        generation++;
        if (loaded != null) {
            loaded.close();
            loaded = null;
        }
        plan = null;
        shardState = AgentState.IDLE;
        error = null;
    }

    /** Binds this run's data port (the same one again for the same run). */
    synchronized DataEndpoint open(String runId) {
        if (run != null && run.runId().equals(runId)) {
            return run.endpoint();
        }
        if (running()) {
            throw AgentException.conflict("the worker is RUNNING run " + run.runId() + "; it takes one run at a time");
        }
        requireReady("open a run");
        if (run != null) {
            run.abort(); // opened but never started: the control plane gave up on it
        }
        try {
            ServerSocket listener = new ServerSocket();
            // a fixed --data-port is bound again for every run: the last run's connections may linger in TIME_WAIT
            listener.setReuseAddress(true);
            listener.bind(new InetSocketAddress(InetAddress.getByName(options.agentHost()), options.dataPort()), 64);
            run = new AgentRun(runId, listener, advertisedHost,
                    options.dataAdvertise() == null ? null : DataAddress.parse(options.dataAdvertise()));
            return run.endpoint();
        } catch (IOException e) {
            throw new IllegalStateException("could not open a data port on " + options.agentHost()
                    + (options.dataPort() == 0 ? "" : ":" + options.dataPort()) + ": " + e.getMessage(), e);
        }
    }

    /** Starts the opened run in the background; its reports follow. */
    synchronized AgentStatus start(String runId, RunStart rs) {
        if (rs.runId() != null && !rs.runId().equals(runId)) {
            throw AgentException.badRequest("runId " + rs.runId() + " in the body differs from " + runId + " in the path");
        }
        if (run == null || !run.runId().equals(runId)) {
            if (running()) {
                throw AgentException.conflict("the worker is RUNNING run " + run.runId() + "; it takes one run at a time");
            }
            throw AgentException.conflict("run " + runId + " was not opened on this worker (state " + status().state()
                    + "); POST /agent/runs/" + runId + "/open first");
        }
        if (run.started()) {
            throw AgentException.conflict("run " + runId + " is already RUNNING on this worker");
        }
        requireReady("start a run");
        PipelineSpec spec = RunSpecs.spec(rs, plan, loaded);
        SocketTransport.Admission admission = RunSpecs.admission(rs, spec, loaded);
        List<InetSocketAddress> peers = new ArrayList<>();
        rs.peers().forEach(p -> peers.add(new InetSocketAddress(p.host(), p.port())));
        AgentRun r = run;
        ReportSender reports = new ReportSender(client, runId, this::workerId, loaded.rank());
        r.start(loaded, spec, peers, admission, reports, () -> ended(r));
        return status();
    }

    private synchronized void ended(AgentRun r) {
        if (run == r) {
            run = null;
        }
    }

    /** Aborts the run (or discards it if only opened); 404 when this worker has no such run. */
    synchronized AgentStatus abort(String runId) {
        if (run == null || !run.runId().equals(runId)) {
            throw AgentException.notFound("no run " + runId + " on this worker"
                    + (run == null ? "" : " (its run is " + run.runId() + ")"));
        }
        run.abort();
        if (!run.started()) {
            run = null;
        }
        return status();
    }

    private void requireReady(String what) {
        if (shardState != AgentState.READY) {
            throw AgentException.conflict("cannot " + what + ": the worker is " + shardState
                    + (shardState == AgentState.FAILED ? " (" + error + ")" : "") + "; a run needs its shard READY");
        }
    }

    /** Stops heartbeats and the API, aborts a run, closes the shard. */
    @Override
    public void close() {
        registrar.close();
        server.close();
        AgentRun r;
        synchronized (this) {
            r = run;
            if (r != null) {
                r.abort();
            }
        }
        if (r != null) {
            try {
                r.awaitEnd(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            if (run != null && run.started()) {
                // the run's thread is still inside the stage: freeing its native memory now could crash the JVM
                System.err.println("pipefill agent: run " + run.runId() + " did not stop; leaving its shard to the exit");
            } else {
                dropShard();
            }
        }
        closed.countDown();
    }

    private static String advertisedHost(AgentOptions o) {
        try {
            if (InetAddress.getByName(o.agentHost()).isAnyLocalAddress()) {
                return NodeInventory.hostname(); // listening everywhere: peers reach the node by its name
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("--agent-host " + o.agentHost() + " is not a known address: " + e.getMessage());
        }
        return o.agentHost();
    }

    private static String newToken() {
        return RandomTokens.next();
    }

    private static String urlHost(String host) {
        return host.contains(":") ? "[" + host + "]" : host;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
