package io.pipefill.worker.agent;

import io.pipefill.worker.backends.Backends;
import java.net.URI;
import java.util.Map;

/**
 * How a worker agent runs: the control plane to join and the token to join with, where its own API
 * listens, how it describes its node, the CPU threads per stage when an assignment leaves them to it, and
 * where its runs' data port listens and is reached.
 *
 * @param dataPort      the port each run's data port binds on {@code agentHost} (the worker takes one run at a
 *                      time), or 0 for any free port: a fixed one for firewalls and network policies
 * @param dataAdvertise {@code host:port} the peers dial to reach the data port, when that differs from where it
 *                      listens (NAT, a port forward, a proxy), or null
 */
public record AgentOptions(URI controlPlane, String joinToken, String agentHost, int agentPort, String nodeName,
                           int threads, Map<String, String> labels, String backend, int dataPort, String dataAdvertise) {

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
        if (dataPort < 0 || dataPort > 65535) {
            throw new IllegalArgumentException("--data-port must be in [0, 65535] (0: any free port), got " + dataPort);
        }
        if (dataAdvertise != null) {
            DataAddress.parse(dataAdvertise);
            if (dataPort == 0) {
                throw new IllegalArgumentException("--data-advertise " + dataAdvertise + " needs a fixed --data-port: "
                        + "what forwards to the data port must know where it listens");
            }
        }
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    /** Data ports on any free port, reached where they listen. */
    public AgentOptions(URI controlPlane, String joinToken, String agentHost, int agentPort, String nodeName,
                        int threads, Map<String, String> labels, String backend) {
        this(controlPlane, joinToken, agentHost, agentPort, nodeName, threads, labels, backend, 0, null);
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
                + ", nodeName=" + nodeName + ", threads=" + threads + ", labels=" + labels + ", backend=" + backend
                + ", dataPort=" + dataPort + ", dataAdvertise=" + dataAdvertise + "]";
    }
}
