package io.pipefill.cli.local;

import io.pipefill.worker.daemon.WorkerCommand;
import io.pipefill.worker.launch.WorkerCommandLine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code pipefill up --local-workers N}: N CPU worker processes on this machine, from this process's Java and
 * class path, that register with the control plane on {@code port} like any other worker. The join token
 * travels in their environment (never on a command line, which any local user can read).
 *
 * <p>Supervised: a worker that exits (crashed, killed) is started again after a backoff, with a log line
 * saying so, at most {@link RestartPolicy#maxRestarts} times within {@link RestartPolicy#window}; past that it
 * stays down with a log line naming its log file. The restarted process registers as a new worker (the
 * control plane marks the old one LOST and degrades what it held).
 */
final class LocalWorkers implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalWorkers.class);

    /** At most {@code maxRestarts} restarts of one worker within {@code window}, the n-th after firstBackoff × 2^n. */
    record RestartPolicy(int maxRestarts, Duration window, Duration firstBackoff) {
        static final RestartPolicy DEFAULT = new RestartPolicy(5, Duration.ofMinutes(10), Duration.ofSeconds(1));
    }

    private final List<Slot> slots = new ArrayList<>();
    private final RestartPolicy policy;
    private final ScheduledExecutorService supervisor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "local-workers-supervisor");
        t.setDaemon(true);
        return t;
    });
    private boolean closed;

    private LocalWorkers(RestartPolicy policy) {
        this.policy = policy;
    }

    static LocalWorkers launch(int count, int threads, int port, String joinToken, Path logs) throws IOException {
        return launch(count, threads, "http://127.0.0.1:" + port, joinToken, logs);
    }

    /** Launches {@code count} supervised workers that join the control plane at {@code controlPlaneUrl}. */
    static LocalWorkers launch(int count, int threads, String controlPlaneUrl, String joinToken, Path logs) throws IOException {
        return launch(count, threads, controlPlaneUrl, joinToken, logs, RestartPolicy.DEFAULT);
    }

    static LocalWorkers launch(int count, int threads, int port, String joinToken, Path logs, RestartPolicy policy)
            throws IOException {
        return launch(count, threads, "http://127.0.0.1:" + port, joinToken, logs, policy);
    }

    static LocalWorkers launch(int count, int threads, String controlPlaneUrl, String joinToken, Path logs, RestartPolicy policy)
            throws IOException {
        if (count < 0 || count > 64) {
            throw new IllegalArgumentException("local workers must be in 0..64, got " + count);
        }
        LocalWorkers workers = new LocalWorkers(policy);
        if (count > 0) {
            Files.createDirectories(logs);
        }
        try {
            for (int i = 0; i < count; i++) {
                List<String> cmd = WorkerCommandLine.of(List.of("--control-plane", controlPlaneUrl,
                        "--threads", String.valueOf(threads)));
                Path logFile = logs.resolve("worker-" + i + ".log");
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile());
                pb.environment().put(WorkerCommand.TOKEN_ENV, joinToken);
                // the worker exits when this process does, even when this one is killed without running its hooks
                pb.environment().put(WorkerCommand.PARENT_ENV, String.valueOf(ProcessHandle.current().pid()));
                Slot s = workers.new Slot(i, pb, logFile);
                workers.slots.add(s);
                s.start();
            }
        } catch (IOException | RuntimeException e) {
            workers.close();
            throw e;
        }
        if (count > 0) {
            log.info("launched {} local CPU worker(s) ({} thread(s) each), logs in {}", count, threads, logs);
        }
        return workers;
    }

    int count() {
        return slots.size();
    }

    /** The worker processes as they are now (a restarted worker's new process), for tests that kill one. */
    synchronized List<Process> processes() {
        return slots.stream().map(s -> s.process).toList();
    }

    /** How many times worker {@code i} was restarted. */
    synchronized int restarts(int i) {
        return slots.get(i).restartCount;
    }

    @Override
    public void close() {
        List<Process> running;
        synchronized (this) {
            closed = true;
            running = processes();
        }
        supervisor.shutdownNow();
        for (Process p : running) {
            if (p != null) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

    /** One worker: its command, its current process and its recent restarts. Guarded by the LocalWorkers monitor. */
    private final class Slot {
        final int index;
        final ProcessBuilder builder;
        final Path logFile;
        final Deque<Instant> recentRestarts = new ArrayDeque<>();
        Process process;
        int restartCount;

        Slot(int index, ProcessBuilder builder, Path logFile) {
            this.index = index;
            this.builder = builder;
            this.logFile = logFile;
        }

        void start() throws IOException {
            synchronized (LocalWorkers.this) {
                if (closed) {
                    return;
                }
                Process p = builder.start();
                process = p;
                // later starts append: the log keeps what the crashed process wrote
                builder.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
                p.onExit().thenAccept(this::exited);
            }
        }

        void exited(Process p) {
            long delayMs;
            synchronized (LocalWorkers.this) {
                if (closed || p != process) {
                    return;
                }
                Instant now = Instant.now();
                while (!recentRestarts.isEmpty() && recentRestarts.peekFirst().isBefore(now.minus(policy.window()))) {
                    recentRestarts.removeFirst();
                }
                if (recentRestarts.size() >= policy.maxRestarts()) {
                    log.error("local worker {} (pid {}) exited with code {}; not restarting it: it was restarted {} times within {}"
                            + " (see {})", index, p.pid(), p.exitValue(), recentRestarts.size(), policy.window(), logFile);
                    return;
                }
                delayMs = policy.firstBackoff().toMillis() << Math.min(recentRestarts.size(), 10);
                recentRestarts.addLast(now);
                restartCount++;
                log.warn("local worker {} (pid {}) exited with code {}; restarting it in {} ms (restart {} of at most {} within {},"
                                + " log in {})", index, p.pid(), p.exitValue(), delayMs, recentRestarts.size(), policy.maxRestarts(),
                        policy.window(), logFile);
            }
            supervisor.schedule(this::restart, delayMs, TimeUnit.MILLISECONDS);
        }

        private void restart() {
            try {
                start();
            } catch (IOException | RuntimeException e) {
                log.error("local worker {} could not be restarted: {}", index, e.toString());
            }
        }
    }
}
