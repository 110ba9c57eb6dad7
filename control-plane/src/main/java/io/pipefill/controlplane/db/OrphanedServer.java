package io.pipefill.controlplane.db;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded PostgreSQL runs as a child process. A control plane killed without running its shutdown hooks
 * (SIGKILL, an OOM kill) leaves that server running on the data directory, and the next start fails on its
 * lock. Before starting, this finds such a server through {@code postmaster.pid} and stops it — but only when
 * no live control plane holds the directory: the embedded server's owner keeps a file lock on
 * {@code epg-lock} for as long as it runs (the OS drops it when that JVM dies, however it dies). The server's
 * parent process says nothing here: {@code pg_ctl} daemonizes it, so a live owner's server is an orphan too.
 */
final class OrphanedServer {
    private static final Logger log = LoggerFactory.getLogger(OrphanedServer.class);

    private OrphanedServer() {
    }

    /** Whether another JVM holds the embedded server's lock on this directory. */
    static boolean ownerAlive(Path dataDir) {
        try (FileChannel ch = FileChannel.open(dataDir.resolve("epg-lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            FileLock lock = ch.tryLock();
            if (lock == null) {
                return true;
            }
            lock.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true; // this JVM already runs a server on it
        } catch (IOException e) {
            throw new UncheckedIOException("could not check the lock of " + dataDir, e);
        }
    }

    static void reclaim(Path dataDir, Duration wait) {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.isRegularFile(pidFile)) {
            return;
        }
        long pid;
        try {
            List<String> lines = Files.readAllLines(pidFile);
            pid = Long.parseLong(lines.get(0).trim());
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + pidFile, e);
        } catch (RuntimeException e) {
            return; // not a pid file PostgreSQL wrote: let the server judge it
        }
        Optional<ProcessHandle> server = ProcessHandle.of(pid);
        if (server.isEmpty() || !server.get().isAlive()) {
            return; // stale: PostgreSQL removes a pid file whose process is gone
        }
        if (ownerAlive(dataDir)) {
            throw new IllegalStateException("the data directory " + dataDir + " is in use by another running control plane "
                    + "(its PostgreSQL server has pid " + pid + "); stop that one or start this one with another --data-dir");
        }
        log.warn("stopping the embedded PostgreSQL (pid {}) that a control plane which did not shut down left running on {}",
                pid, dataDir);
        server.get().destroy(); // SIGTERM: a smart shutdown, and an orphan has no clients left
        try {
            server.get().onExit().get(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            log.warn("it did not stop within {} s; killing it (PostgreSQL recovers from its WAL on the next start)",
                    wait.toSeconds());
            server.get().destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }
}
