package io.pipefill.worker.daemon;

import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.pipefill.worker.agent.AgentOptions;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.agent.WorkerAgent;
import io.pipefill.worker.launch.WorkerProcess;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Two modes: a one-shot rank of a coordinator's run ({@code --coordinator --rank}, what {@code prefill
 * --pp/--tp} launches), or a long-lived agent that a control plane drives ({@code --control-plane}).
 */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = {"Run one pipeline rank (PP stage × TP rank) for a coordinator (--coordinator, --rank); "
                + "`pipefill prefill --pp/--tp` starts these itself.",
                "Or run a long-lived worker agent that a control plane drives over HTTP (--control-plane)."})
public final class WorkerCommand implements Callable<Integer> {
    public static final String TOKEN_ENV = "PIPEFILL_JOIN_TOKEN";

    @Spec
    CommandSpec spec;

    @Option(names = "--coordinator", description = "Coordinator mode: host:port of the coordinator to register with.")
    String coordinator;

    @Option(names = "--rank", description = "Coordinator mode: this worker's rank, stage × tp + tp rank.")
    Integer rank;

    @Option(names = "--bind-host", defaultValue = "127.0.0.1", description = "Coordinator mode: address peers reach this worker at (default: ${DEFAULT-VALUE}).")
    String bindHost;

    @Option(names = "--control-plane", description = "Agent mode: the control plane's base URL, e.g. http://cp:8080.")
    String controlPlane;

    @Option(names = "--join-token", description = "Agent mode: the token to join with (default: $" + TOKEN_ENV + ").")
    String joinToken;

    @Option(names = "--join-token-file", description = "Agent mode: read the join token from this file (e.g. a mounted "
            + "Kubernetes Secret), instead of --join-token or $" + TOKEN_ENV + ", which every process dump shows.")
    Path joinTokenFile;

    @Option(names = "--agent-host", defaultValue = "127.0.0.1", description = "Agent mode: address of the agent API and the data ports (default: ${DEFAULT-VALUE}).")
    String agentHost;

    @Option(names = "--agent-port", defaultValue = "0", description = "Agent mode: port of the agent API, 0 for any free one (default: ${DEFAULT-VALUE}).")
    int agentPort;

    @Option(names = "--data-port", defaultValue = "0", description = "Agent mode: port of each run's data port on "
            + "--agent-host, 0 for any free one (default: ${DEFAULT-VALUE}); fix it for firewalls and network policies.")
    int dataPort;

    @Option(names = "--data-advertise", description = "Agent mode: host:port the other ranks dial to reach the data "
            + "port, when it differs from where it listens (NAT, a port forward, a proxy).")
    String dataAdvertise;

    @Option(names = "--node-name", description = "Agent mode: the node's name (default: this host's name).")
    String nodeName;

    @Option(names = "--threads", defaultValue = "1", description = "Agent mode: CPU threads per stage when a shard assignment leaves it open (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--label", description = "Agent mode: a node label k=v for placement (repeatable).")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--backend", defaultValue = "cpu", description = "Agent mode: compute backend, cpu or cuda (default: ${DEFAULT-VALUE}).")
    String backend;

    @Override
    public Integer call() throws Exception {
        boolean coordinatorMode = coordinator != null || rank != null;
        boolean agentMode = controlPlane != null;
        if (coordinatorMode && agentMode) {
            throw new ParameterException(spec.commandLine(), "--coordinator/--rank (one rank of a coordinator's run) and "
                    + "--control-plane (a long-lived agent) are two modes of `pipefill worker`; give one of them");
        }
        if (agentMode) {
            return runAgent();
        }
        if (coordinator == null || rank == null) {
            throw new ParameterException(spec.commandLine(), "give --coordinator host:port and --rank N (one rank of a "
                    + "coordinator's run), or --control-plane URL (a long-lived agent)");
        }
        return runRank();
    }

    private int runRank() throws Exception {
        int colon = coordinator.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("--coordinator " + coordinator + ": expected host:port");
        }
        int port;
        try {
            port = Integer.parseInt(coordinator.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--coordinator " + coordinator + ": the port is not a number");
        }
        if (rank < 0) {
            throw new IllegalArgumentException("--rank must be >= 0, got " + rank);
        }
        return WorkerProcess.run(coordinator.substring(0, colon), port, rank, bindHost);
    }

    private int runAgent() throws Exception {
        URI cp;
        try {
            cp = new URI(controlPlane);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--control-plane " + controlPlane + " is not a URL: " + e.getReason());
        }
        if (joinToken != null && joinTokenFile != null) {
            throw new IllegalArgumentException("give the join token once: --join-token or --join-token-file, not both");
        }
        String token = joinTokenFile != null ? readTokenFile(joinTokenFile)
                : joinToken != null ? joinToken : System.getenv(TOKEN_ENV);
        AgentOptions options = new AgentOptions(cp, token, agentHost, agentPort,
                nodeName != null ? nodeName : AgentOptions.defaultNodeName(), threads, labels, backend, dataPort, dataAdvertise);
        // before joining: a GPU worker on a host without the CUDA libraries says which are missing, and where
        // it looked, instead of registering and failing every shard it is given
        Backends.checkAvailable(options.backendKind());
        WorkerAgent agent = WorkerAgent.start(options);
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "agent-shutdown"));
        exitWithParent(agent);
        agent.awaitClosed();
        return 0;
    }

    /** A token file: a regular file of at most 4 KiB whose trimmed text is the token; errors never echo its content. */
    static String readTokenFile(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--join-token-file " + file + " is not a readable regular file");
        }
        if (Files.size(file) > 4096) {
            throw new IllegalArgumentException("--join-token-file " + file + " is " + Files.size(file)
                    + " bytes; a token file holds one token (at most 4096 bytes)");
        }
        String token = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (token.isEmpty()) {
            throw new IllegalArgumentException("--join-token-file " + file + " is empty");
        }
        return token;
    }

    /**
     * A local worker of {@code pipefill up} (which sets {@value #PARENT_ENV}) ends with the control plane that
     * launched it, even one killed with SIGKILL, instead of heart-beating into the void forever.
     */
    private static void exitWithParent(WorkerAgent agent) {
        String pid = System.getenv(PARENT_ENV);
        if (pid == null || pid.isBlank()) {
            return;
        }
        try {
            ProcessHandle.of(Long.parseLong(pid.trim())).ifPresentOrElse(
                    parent -> parent.onExit().thenRun(() -> {
                        System.err.println("pipefill agent: the control plane that launched this worker (pid " + pid
                                + ") is gone; exiting");
                        agent.close();
                        System.exit(0);
                    }),
                    () -> {
                        System.err.println("pipefill agent: the control plane that launched this worker (pid " + pid
                                + ") is already gone; exiting");
                        System.exit(0);
                    });
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PARENT_ENV + " must be a process id, got '" + pid + "'");
        }
    }

    public static final String PARENT_ENV = "PIPEFILL_PARENT_PID";
}
