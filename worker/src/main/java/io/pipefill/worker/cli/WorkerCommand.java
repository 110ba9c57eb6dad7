package io.pipefill.worker.cli;

import io.pipefill.worker.pipeline.WorkerProcess;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run one pipeline rank (PP stage × TP rank) for a coordinator; `pipefill prefill --pp/--tp` starts these itself.")
final class WorkerCommand implements Callable<Integer> {
    @Option(names = "--coordinator", required = true, description = "host:port of the coordinator to register with.")
    String coordinator;

    @Option(names = "--rank", required = true, description = "This worker's rank: stage × tp + tp rank.")
    int rank;

    @Option(names = "--bind-host", defaultValue = "127.0.0.1", description = "Address peers reach this worker at (default: ${DEFAULT-VALUE}).")
    String bindHost;

    @Override
    public Integer call() throws Exception {
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
}
