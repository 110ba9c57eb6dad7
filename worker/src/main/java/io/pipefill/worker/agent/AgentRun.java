package io.pipefill.worker.agent;

import io.pipefill.model.Topology;
import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.worker.pipeline.LoadedStage;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.pipeline.SharedRunClock;
import io.pipefill.worker.pipeline.StageWorker;
import io.pipefill.worker.comm.SocketTransport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;

/**
 * One run on this worker: the listening socket its peers connect to (bound at open), then, once started,
 * a thread that connects the socket transport, runs the loaded stage and reports. Aborting closes the
 * listener and the transport and interrupts the thread, so that a connect, an accept or a wait on a peer
 * fails at once instead of running into the peer timeout.
 */
final class AgentRun {
    static final String ABORTED = "aborted by the control plane";

    private final String runId;
    private final ServerSocket listener;
    private final DataEndpoint endpoint;
    private volatile Thread thread;
    private volatile SocketTransport transport;
    private volatile boolean aborted;

    /** {@code advertised}: where the peers reach the listener, or null for the advertised host at its own port. */
    AgentRun(String runId, ServerSocket listener, String advertisedHost, DataEndpoint advertised) {
        this.runId = runId;
        this.listener = listener;
        this.endpoint = advertised != null ? advertised : new DataEndpoint(advertisedHost, listener.getLocalPort());
    }

    String runId() {
        return runId;
    }

    DataEndpoint endpoint() {
        return endpoint;
    }

    boolean started() {
        return thread != null;
    }

    /** Starts the run in the background; {@code onEnd} runs last, after the final report is queued. */
    void start(LoadedStage loaded, PipelineSpec spec, List<InetSocketAddress> peers, SocketTransport.Admission admission,
               ReportSender reports, Runnable onEnd) {
        Thread t = new Thread(() -> run(loaded, spec, peers, admission, reports, onEnd), "run-" + runId);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    private void run(LoadedStage loaded, PipelineSpec spec, List<InetSocketAddress> peers,
                     SocketTransport.Admission admission, ReportSender reports, Runnable onEnd) {
        Topology topo = spec.topology();
        int rank = loaded.rank();
        try {
            SocketTransport t = SocketTransport.connect(rank, listener, peers, spec.peerTimeout(), spec.peerTimeout(),
                    topo::describe, admission);
            transport = t;
            try (t) {
                if (aborted) {
                    throw new IllegalStateException(ABORTED);
                }
                new StageWorker(t, spec, reports, new SharedRunClock(t)).runOn(loaded);
                // nobody closes its sockets before every rank is done: a peer may still be reading what it sent
                t.barrier(t.allRanks());
            }
            reports.report(new RankReport.Done(rank));
        } catch (RuntimeException e) {
            String message = aborted ? ABORTED : ReportSender.describe(e);
            System.err.println("pipefill agent: run " + runId + " failed on " + topo.describe(rank) + ": " + message);
            reports.report(new RankReport.Failed(rank, message));
        } finally {
            closeListener();
            reports.finish();
            Thread.interrupted(); // an abort's interrupt must not leak into whatever runs next on this thread
            onEnd.run();
        }
    }

    /** Stops the run: it fails fast and reports {@value #ABORTED}. A run not yet started just releases its port. */
    void abort() {
        aborted = true;
        closeListener();
        SocketTransport t = transport;
        if (t != null) {
            t.close();
        }
        Thread th = thread;
        if (th != null) {
            th.interrupt();
        }
    }

    void awaitEnd(long millis) throws InterruptedException {
        Thread th = thread;
        if (th != null) {
            th.join(millis);
        }
    }

    private void closeListener() {
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
