package io.pipefill.controlplane.run;

import io.pipefill.controlplane.agent.AgentClient;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.AgentStatus;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops a run on its workers. An agent answers an abort at once but its run thread unwinds afterwards (the
 * chunk in compute finishes, the last reports go out), and until it has, the agent refuses a new run; so
 * before the deployment's next queued run may start, {@link #awaitReleased} waits until every worker that
 * still answers has let go of the run, bounded by the peer timeout (within which a rank whose peers are gone
 * fails on its own). A worker that no longer answers holds nothing and is not waited for.
 */
final class RunAborter {
    private static final Logger log = LoggerFactory.getLogger(RunAborter.class);
    private static final Duration CALL = Duration.ofSeconds(5);
    private static final long POLL_MILLIS = 100;

    private final AgentClient agents;
    private final Duration bound;

    RunAborter(AgentClient agents, Duration bound) {
        this.agents = agents;
        this.bound = bound;
    }

    /** Asks every worker to abort the run; best effort (a lost worker has nothing to abort). */
    void abort(List<Worker> workers, String runId) {
        for (Worker w : workers) {
            try {
                agents.abortRun(w, runId).block(CALL);
            } catch (RuntimeException ignored) {
                // an unreachable worker, or one that had already let go (404)
            }
        }
    }

    /**
     * Returns once no answering worker still holds the run, or when the bound has passed (logged); true in the
     * first case. An interrupt (the control plane stopping) ends the wait at once.
     */
    boolean awaitReleased(List<Worker> workers, String runId) {
        long deadline = System.nanoTime() + bound.toNanos();
        for (Worker w : workers) {
            while (holds(w, runId)) {
                if (System.nanoTime() > deadline) {
                    log.warn("run {}: worker {} at {} still holds the run {} s after the abort; the next run may find "
                            + "it busy", runId, w.id(), w.agentUrl(), bound.toSeconds());
                    return false;
                }
                try {
                    Thread.sleep(POLL_MILLIS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return true;
    }

    private boolean holds(Worker w, String runId) {
        try {
            AgentStatus s = agents.status(w).block(CALL);
            return s != null && runId.equals(s.runId());
        } catch (RuntimeException gone) {
            return false;
        }
    }
}
