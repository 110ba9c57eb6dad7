package io.pipefill.cli.local;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pipefill up}: starts the control plane (embedded PostgreSQL unless PIPEFILL_DB_URL is set) and,
 * for a one-machine setup, local CPU workers with a generated model deployed across them. Returns when the
 * control plane stops (SIGTERM, Ctrl-C).
 */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = "Start the control plane (REST API on --port), local CPU workers and a generated model deployed across them.")
public final class UpCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8080", description = "HTTP port of the API (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address the API listens on (default: ${DEFAULT-VALUE}, "
            + "this machine only; 0.0.0.0 for every interface, then anyone who can reach it meets only the token checks).")
    String bind;

    @Option(names = "--local-workers", defaultValue = "2", description = "CPU worker processes to launch on this machine, 0 for none (default: ${DEFAULT-VALUE}).")
    int localWorkers;

    @Option(names = "--threads-per-worker", defaultValue = "1", description = "CPU threads of each local worker (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--model", defaultValue = "small", description = "Preset to generate and deploy on the local workers: tiny, small, or none (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--max-tokens", defaultValue = "16384", description = "KV capacity of the local deployment in tokens (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--data-dir", description = "Where the embedded database, tokens, models and logs live (default: ~/.local/share/pipefill or PIPEFILL_DATA_DIR).")
    Path dataDir;

    @Override
    public Integer call() throws InterruptedException {
        if (localWorkers < 0 || localWorkers > 64) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--local-workers must be in 0..64, got " + localWorkers);
        }
        if (!List.of("tiny", "small", "none").contains(model)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--model must be tiny, small or none, got " + model);
        }
        List<String> args = new ArrayList<>();
        args.add("--server.port=" + port);
        args.add("--server.address=" + bind);
        if (dataDir != null) {
            args.add("--pipefill.data-dir=" + dataDir.toAbsolutePath());
        }
        Path tokensIn = LocalTokenFiles.dataDir(dataDir, System.getenv());
        for (Path generated : LocalTokenFiles.generateMissing(tokensIn, System.getenv())) {
            // the path, never the token: this output often lands in logs that others read
            System.out.println("pipefill: generated the " + generated.getFileName().toString().replace('-', ' ')
                    + " into " + generated + " (mode 600, readable by this user only)");
        }
        Instant since = Instant.now();
        LocalCluster cluster = LocalCluster.start(args.toArray(String[]::new), localWorkers, threads);
        if (!"none".equals(model) && localWorkers > 0) {
            // the bootstrap takes the cluster, not its Spring context: this class's bytecode names no Spring type, so the
            // verifier never loads one when picocli introspects the command tree (the GPU check's bundle has no Spring)
            new LocalBootstrap(model, maxTokens, threads, since, cluster).start(cluster.port());
        }
        cluster.awaitClosed();
        return 0;
    }
}
