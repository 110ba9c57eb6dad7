package io.pipefill.controlplane.local;

import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.security.Tokens;
import io.pipefill.worker.pipeline.WorkerCommandLine;
import jakarta.annotation.PreDestroy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * {@code pipefill up --local-workers N}: launches N CPU worker processes on this machine, from this
 * process's Java and class path, that register with this control plane like any other worker. The join
 * token travels in their environment (never on a command line, which any local user can read). They are
 * killed when the control plane stops.
 */
@Component
public class LocalWorkers {
    private static final Logger log = LoggerFactory.getLogger(LocalWorkers.class);

    private final int count;
    private final int threads;
    private final PipefillProperties props;
    private final Tokens tokens;
    private final List<Process> processes = new ArrayList<>();

    public LocalWorkers(@Value("${pipefill.local.workers:0}") int count, @Value("${pipefill.local.threads:1}") int threads,
                        PipefillProperties props, Tokens tokens) {
        if (count < 0 || count > 64) {
            throw new IllegalArgumentException("pipefill.local.workers must be in 0..64, got " + count);
        }
        this.count = count;
        this.threads = threads;
        this.props = props;
        this.tokens = tokens;
    }

    public int count() {
        return count;
    }

    @EventListener
    public void onStarted(WebServerInitializedEvent event) {
        if (count == 0 || !processes.isEmpty()) {
            return;
        }
        int port = event.getWebServer().getPort();
        Path logs = props.dataDir().resolve("logs");
        try {
            Files.createDirectories(logs);
            for (int i = 0; i < count; i++) {
                processes.add(launch(port, logs.resolve("worker-" + i + ".log")));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not launch local workers: " + e.getMessage(), e);
        }
        log.info("launched {} local CPU worker(s) ({} thread(s) each), logs in {}", count, threads, logs);
    }

    private Process launch(int port, Path logFile) throws IOException {
        List<String> cmd = WorkerCommandLine.of(List.of("--control-plane", "http://127.0.0.1:" + port,
                "--threads", String.valueOf(threads)));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile());
        pb.environment().put("PIPEFILL_JOIN_TOKEN", tokens.join());
        // the worker exits when this process does, even when this one is killed without running its hooks
        pb.environment().put("PIPEFILL_PARENT_PID", String.valueOf(ProcessHandle.current().pid()));
        return pb.start();
    }

    /** The local worker processes, for tests that kill one. */
    public List<Process> processes() {
        return List.copyOf(processes);
    }

    @PreDestroy
    public void stop() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }
}
