package io.pipefill.cli.local;

import io.pipefill.worker.daemon.WorkerCommand;
import io.pipefill.worker.launch.WorkerCommandLine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code pipefill up --local-workers N}: N CPU worker processes on this machine, from this process's Java and
 * class path, that register with the control plane on {@code port} like any other worker. The join token
 * travels in their environment (never on a command line, which any local user can read).
 */
final class LocalWorkers implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalWorkers.class);

    private final List<Process> processes;

    private LocalWorkers(List<Process> processes) {
        this.processes = List.copyOf(processes);
    }

    static LocalWorkers launch(int count, int threads, int port, String joinToken, Path logs) throws IOException {
        return launch(count, threads, "http://127.0.0.1:" + port, joinToken, logs);
    }

    /** Launches {@code count} workers that join the control plane at {@code controlPlaneUrl}. */
    static LocalWorkers launch(int count, int threads, String controlPlaneUrl, String joinToken, Path logs) throws IOException {
        if (count < 0 || count > 64) {
            throw new IllegalArgumentException("local workers must be in 0..64, got " + count);
        }
        List<Process> started = new ArrayList<>();
        if (count > 0) {
            Files.createDirectories(logs);
        }
        try {
            for (int i = 0; i < count; i++) {
                List<String> cmd = WorkerCommandLine.of(List.of("--control-plane", controlPlaneUrl,
                        "--threads", String.valueOf(threads)));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(logs.resolve("worker-" + i + ".log").toFile());
                pb.environment().put(WorkerCommand.TOKEN_ENV, joinToken);
                // the worker exits when this process does, even when this one is killed without running its hooks
                pb.environment().put(WorkerCommand.PARENT_ENV, String.valueOf(ProcessHandle.current().pid()));
                started.add(pb.start());
            }
        } catch (IOException | RuntimeException e) {
            new LocalWorkers(started).close();
            throw e;
        }
        if (count > 0) {
            log.info("launched {} local CPU worker(s) ({} thread(s) each), logs in {}", count, threads, logs);
        }
        return new LocalWorkers(started);
    }

    int count() {
        return processes.size();
    }

    /** The worker processes, for tests that kill one. */
    List<Process> processes() {
        return processes;
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }
}
