package io.pipefill.controlplane.cluster;

/**
 * Asks a registered worker's agent, with that worker's own agent token, whether it still answers at its agent
 * URL. Implemented by the agent client (the cluster package does not call agents itself, so that the two
 * packages do not depend on each other both ways).
 */
public interface AgentLiveness {
    /** What the agent at a worker's URL answered to that worker's agent token. */
    enum Answer {
        /** It answered as the worker: the worker is alive there. */
        ALIVE,
        /** Something answered there but refused the worker's token, or nothing listens: the worker is gone. */
        GONE,
        /** No answer in time: perhaps alive, perhaps not. */
        UNKNOWN
    }

    /** Blocking; bounded by a short timeout. */
    Answer probe(Worker w);
}
