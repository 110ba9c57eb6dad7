package io.pipefill.e2e.support;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One {@code pipefill} command run as a user runs it: the repository's launcher script in its own process, on the
 * classes the reactor built ({@code PIPEFILL_CLASSPATH}, so that it builds nothing), with an environment free of the
 * test JVM's {@code PIPEFILL_*} settings. Its output (stdout and stderr) goes to a log under target/ and is kept for
 * {@link #await}.
 */
public final class Pipefill implements AutoCloseable {
    private static final Path LAUNCHER = Path.of(System.getProperty("pipefill.launcher", "../pipefill")).toAbsolutePath().normalize();
    private static final Path LOGS = Path.of("target", "e2e-logs").toAbsolutePath();

    private final String name;
    private final Process process;
    private final Path log;
    private final List<String> lines = new ArrayList<>();
    /** Every process this command started (workers, the database server), seen while it ran: stopped by {@link #close}. */
    private final List<ProcessHandle> seen = new ArrayList<>();
    /** Copies the output into {@link #lines} and the log until the process closes it. */
    private Thread reader;

    private Pipefill(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** The cli's runtime classpath as the e2e module's build resolved it (in a reactor build: its classes directories). */
    static String classpath() {
        Path file = Path.of(System.getProperty("pipefill.classpath.file", "target/pipefill.classpath"));
        try {
            return Files.readString(file).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("the launcher classpath " + file + " is missing: run the tests through Maven", e);
        }
    }

    /** Starts {@code pipefill args…} with {@code env} added to a clean environment. */
    public static Pipefill start(String name, Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(LAUNCHER.toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // nothing of the test's own environment decides tokens, database or ports
        pb.environment().keySet().removeIf(k -> k.startsWith("PIPEFILL_"));
        pb.environment().put("PIPEFILL_CLASSPATH", classpath());
        pb.environment().put("PIPEFILL_JVM_OPTS", "-Xmx768m");
        pb.environment().putAll(env);
        try {
            Files.createDirectories(LOGS);
            Path log = LOGS.resolve(name + ".log");
            Pipefill p = new Pipefill(name, pb.start(), log);
            p.pump();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + cmd, e);
        }
    }

    /** Runs {@code pipefill args…} to its end (at most {@code within}); fails the test unless it exits 0. */
    public static List<String> run(String name, Duration within, String... args) throws InterruptedException {
        try (Pipefill p = start(name, Map.of(), args)) {
            if (!p.process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("pipefill " + String.join(" ", args) + " did not end within " + within.toSeconds() + " s:\n" + p.tail());
            }
            p.drained();
            if (p.process.exitValue() != 0) {
                fail("pipefill " + String.join(" ", args) + " exited " + p.process.exitValue() + ":\n" + p.tail());
            }
            return p.snapshot();
        }
    }

    private void pump() throws IOException {
        PrintWriter w = new PrintWriter(Files.newBufferedWriter(log), true);
        reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    w.println(l);
                    synchronized (lines) {
                        lines.add(l);
                    }
                }
            } catch (IOException ended) {
                // the process is gone
            } finally {
                w.close();
                synchronized (lines) {
                    lines.notifyAll();
                }
            }
        }, "pipefill-" + name + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** After the exit: waits (briefly) for the reader to take the last lines. */
    private void drained() throws InterruptedException {
        reader.join(5_000);
    }

    public Process process() {
        return process;
    }

    public List<String> snapshot() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** The first output line matching, waiting for it; fails at once if the process ends first. */
    public String await(Predicate<String> match, Duration within, String what) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            for (String l : snapshot()) {
                if (match.test(l)) {
                    return l;
                }
            }
            if (!process.isAlive()) {
                drained();
                return fail("pipefill " + name + " exited (" + process.exitValue() + ") before " + what + "; output in "
                        + log + ":\n" + tail());
            }
            Thread.sleep(100);
        }
        return fail("no " + what + " from " + name + " within " + within.toSeconds() + " s; output in " + log + ":\n" + tail());
    }

    public String tail() {
        List<String> all = snapshot();
        return String.join("\n", all.subList(Math.max(0, all.size() - 40), all.size()));
    }

    /** The processes this one started, remembered so that {@link #close} stops them even after this one is killed. */
    public List<ProcessHandle> descendants() {
        List<ProcessHandle> now = process.descendants().toList();
        synchronized (seen) {
            for (ProcessHandle h : now) {
                if (!seen.contains(h)) {
                    seen.add(h);
                }
            }
            return List.copyOf(seen);
        }
    }

    /** SIGKILL: no shutdown hook runs. */
    public void kill() throws InterruptedException {
        descendants();
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGTERM, then waits for the orderly stop. */
    public boolean stop(Duration within) throws InterruptedException {
        descendants();
        process.destroy();
        return process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Stops the process and everything it started; nothing is left behind whichever way the test went. */
    @Override
    public void close() {
        try {
            List<ProcessHandle> children = descendants();
            if (process.isAlive() && !stop(Duration.ofSeconds(30))) {
                process.destroyForcibly();
            }
            for (ProcessHandle h : children) {
                h.destroy();
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            for (ProcessHandle h : children) {
                while (h.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                h.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
