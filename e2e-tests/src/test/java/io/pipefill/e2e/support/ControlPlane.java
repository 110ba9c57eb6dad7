package io.pipefill.e2e.support;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A control plane as an operator starts one: {@code pipefill up --local-workers 0 --model none} on a data directory
 * (tokens, embedded database, models) and a fixed port, with workers started apart as {@code pipefill worker}
 * processes that join with the token file. Everything it started is stopped by {@link #close}.
 */
public final class ControlPlane implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final Path dataDir;
    private final int port;
    private final int dbPort;
    private final Map<String, String> env;
    private final List<Pipefill> processes = new ArrayList<>();
    private Pipefill up;
    private int starts;
    private int workerCount;

    private ControlPlane(String name, Path dataDir, Map<String, String> env) throws IOException {
        this.name = name;
        this.dataDir = dataDir;
        this.port = freePort();
        this.dbPort = freePort();
        this.env = new HashMap<>(env);
    }

    /**
     * Starts a control plane on {@code dataDir} and waits for its health; {@code name} prefixes its processes' logs
     * in target/e2e-logs. {@code env} adds settings, e.g.
     * {@code PIPEFILL_PEER_TIMEOUT}; the embedded database listens on a fixed port so that the test can read
     * the records after the control plane is gone.
     */
    public static ControlPlane start(String name, Path dataDir, Map<String, String> env) throws IOException, InterruptedException {
        ControlPlane cp = new ControlPlane(name, dataDir, env);
        cp.startUp();
        return cp;
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** (Re)starts the control plane process on the same data directory and port. */
    public void startUp() throws IOException, InterruptedException {
        Map<String, String> e = new HashMap<>(env);
        e.putIfAbsent("PIPEFILL_DB_PORT", String.valueOf(dbPort));
        // the workers listen on 127.0.0.1 like `pipefill up`'s own, which sets this for them
        e.putIfAbsent("PIPEFILL_AGENTS_ALLOW_LOOPBACK", "true");
        up = Pipefill.start(name + "-control-plane-" + (++starts), e, "up", "--port", String.valueOf(port),
                "--local-workers", "0", "--model", "none", "--data-dir", dataDir.toString());
        processes.add(up);
        awaitHealthy(Duration.ofMinutes(3));
    }

    public void awaitHealthy(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (!up.process().isAlive()) {
                fail("the control plane exited (" + up.process().exitValue() + ") before it was healthy:\n" + up.tail());
            }
            try {
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/actuator/health"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && r.body().contains("\"UP\"")) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        fail("the control plane was not healthy within " + within.toSeconds() + " s:\n" + up.tail());
    }

    public String base() {
        return "http://127.0.0.1:" + port;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Pipefill process() {
        return up;
    }

    public String adminToken() throws IOException {
        return Files.readString(dataDir.resolve("admin-token")).trim();
    }

    public Api api() throws IOException {
        return new Api(base(), adminToken());
    }

    /** Starts a worker that joins with the join token file, on node {@code node}; {@code extra} adds options. */
    public Pipefill startWorker(String node, String... extra) {
        List<String> args = new ArrayList<>(List.of("worker", "--control-plane", base(), "--join-token-file",
                dataDir.resolve("join-token").toString(), "--agent-host", "127.0.0.1", "--node-name", node, "--threads", "1"));
        args.addAll(List.of(extra));
        Pipefill w = Pipefill.start(name + "-worker-" + (++workerCount) + "-" + node, Map.of(),
                args.toArray(String[]::new));
        processes.add(w);
        return w;
    }

    /** Generates a model with {@code pipefill model create} under the models root and registers it; returns its name. */
    public String createModel(String name, String... createArgs) throws Exception {
        Path dir = dataDir.resolve("models").resolve(name);
        List<String> args = new ArrayList<>(List.of("model", "create", "--out", dir.toString()));
        args.addAll(List.of(createArgs));
        Pipefill.run(this.name + "-model-create-" + name, Duration.ofMinutes(2), args.toArray(String[]::new));
        api().post("/api/v1/models", Map.of("name", name, "location", dir.toString()), 201);
        return name;
    }

    /** Creates a deployment and waits for it to be READY. */
    public Map<String, Object> deploy(Map<String, Object> request) throws Exception {
        Map<String, Object> d = api().post("/api/v1/deployments", request, 201);
        return api().await("/api/v1/deployments/" + d.get("name"), m -> {
            if ("FAILED".equals(m.get("state"))) {
                fail("deployment " + d.get("name") + " FAILED: " + m.get("stateReason"));
            }
            return "READY".equals(m.get("state"));
        }, Duration.ofMinutes(2), "deployment " + d.get("name") + " READY");
    }

    /**
     * A connection to the control plane's database: the external one it was given ({@code PIPEFILL_DB_URL}), or its
     * embedded one with the password it keeps in its data directory.
     */
    public Connection database() throws IOException, SQLException {
        if (env.containsKey("PIPEFILL_DB_URL")) {
            return DriverManager.getConnection(env.get("PIPEFILL_DB_URL"), env.get("PIPEFILL_DB_USER"), env.get("PIPEFILL_DB_PASSWORD"));
        }
        String password = Files.readString(dataDir.resolve("db-password")).trim();
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + dbPort + "/postgres", "postgres", password);
    }

    /** Every live process that belongs to this system: the launched ones, what they started, its database server. */
    private List<ProcessHandle> alive() {
        List<ProcessHandle> all = new ArrayList<>();
        for (Pipefill p : processes) {
            all.add(p.process().toHandle());
            all.addAll(p.descendants());
        }
        // pg_ctl daemonizes the embedded server: it is nobody's child; its command line names the data directory
        String dir = dataDir.toString();
        ProcessHandle.allProcesses().filter(h -> h.info().commandLine().orElse("").contains(dir)).forEach(all::add);
        return all.stream().filter(ProcessHandle::isAlive).distinct().toList();
    }

    /**
     * Stops every process this control plane and its workers started, and checks that none is left behind (those
     * still alive are killed, and the test fails naming them).
     */
    @Override
    public void close() {
        alive(); // remember the descendants while their parents live
        // workers first: they would otherwise retry against a stopped control plane until the test JVM ends
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).close();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        List<ProcessHandle> left = alive();
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            left = alive();
        }
        if (!left.isEmpty()) {
            List<String> named = left.stream().map(h -> h.pid() + " " + h.info().commandLine().orElse("?")).toList();
            left.forEach(ProcessHandle::destroyForcibly);
            throw new IllegalStateException("processes left behind after the system was stopped: " + named);
        }
    }
}
