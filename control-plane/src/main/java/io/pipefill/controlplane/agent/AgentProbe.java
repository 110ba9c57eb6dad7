package io.pipefill.controlplane.agent;

import io.pipefill.controlplane.cluster.AgentLiveness;
import io.pipefill.controlplane.cluster.Worker;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.springframework.stereotype.Component;
import reactor.core.Exceptions;

/**
 * Whether a registered worker still answers at its agent URL, asked with that worker's own agent token: a
 * process that answers 2xx is that worker; one that answers 401/403 is another process (a restart, which
 * generated a new token); nothing listening means the worker is gone. Decides whether a new registration may
 * take over an agent URL.
 */
@Component
class AgentProbe implements AgentLiveness {
    private static final Duration WITHIN = Duration.ofSeconds(2);

    private final AgentClient agents;

    AgentProbe(AgentClient agents) {
        this.agents = agents;
    }

    @Override
    public Answer probe(Worker w) {
        try {
            Integer status = agents.statusCode(w, WITHIN).block();
            if (status != null && status / 100 == 2) {
                return Answer.ALIVE;
            }
            // 401/403: another process holds the address; anything else there is not that worker's agent either
            return status != null && (status == 401 || status == 403 || status == 404) ? Answer.GONE : Answer.UNKNOWN;
        } catch (AgentClient.Refused e) {
            return Answer.GONE; // no token on record, or the host is refused now: the holder cannot be the worker
        } catch (RuntimeException e) {
            if (Exceptions.unwrap(e) instanceof TimeoutException) {
                return Answer.UNKNOWN;
            }
            return Answer.GONE; // connection refused, unknown host: nobody is there
        }
    }
}
