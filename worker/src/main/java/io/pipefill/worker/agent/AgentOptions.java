package io.pipefill.worker.agent;

import io.pipefill.worker.backends.Backends;
import java.net.URI;
import java.util.Map;

/**
 * How a worker agent runs: the control plane to join and the token to join with, where its own API
 * listens, how it describes its node, and the CPU threads per stage when an assignment leaves them to it.
 */
public record AgentOptions(URI controlPlane, String joinToken, String agentHost, int agentPort, String nodeName,
                           int threads, Map<String, String> labels, String backend) {

    public AgentOptions {
        if (controlPlane == null || controlPlane.getScheme() == null
                || !(controlPlane.getScheme().equals("http") || controlPlane.getScheme().equals("https"))) {
            throw new IllegalArgumentException("--control-plane must be an http:// or https:// URL, got " + controlPlane);
        }
        if (joinToken == null || joinToken.isBlank()) {
            throw new IllegalArgumentException("a join token is required: --join-token or the PIPEFILL_JOIN_TOKEN environment variable");
        }
        if (agentPort < 0 || agentPort > 65535) {
            throw new IllegalArgumentException("--agent-port must be in [0, 65535] (0: any free port), got " + agentPort);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        if (!"cpu".equals(backend) && !"cuda".equals(backend)) {
            throw new IllegalArgumentException("--backend " + backend + " is not a backend; allowed: cpu, cuda");
        }
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    /** The backend as the engine names it. */
    public Backends.Kind backendKind() {
        return Backends.Kind.valueOf(backend);
    }

    /** This host's name, the default node name. */
    public static String defaultNodeName() {
        return NodeInventory.hostname();
    }

    /** Never prints the token. */
    @Override
    public String toString() {
        return "AgentOptions[controlPlane=" + controlPlane + ", agentHost=" + agentHost + ", agentPort=" + agentPort
                + ", nodeName=" + nodeName + ", threads=" + threads + ", labels=" + labels + ", backend=" + backend + "]";
    }
}
