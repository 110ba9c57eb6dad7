package io.pipefill.cli.local;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pipefill bench control-plane}: sustained heartbeats and run submissions against a control plane
 * started in this process (embedded PostgreSQL in a temporary directory, two local CPU workers, a tiny
 * model deployed PP = 2), driven over loopback HTTP by closed-loop clients. Baselines measured in the same
 * run: {@code GET /actuator/health/liveness} (the web stack and security, no database) for heartbeats, and
 * each run's own TTFT (the compute) for run latency; ratios are printed beside them. Runs are measured twice:
 * with one client (the control plane's own overhead per run, no queueing) and with {@code --concurrency}
 * clients (sustained runs per second; a deployment runs one prefill at a time, so the rest queue).
 */
@Command(name = "control-plane", mixinStandardHelpOptions = true,
        description = "Heartbeats/s and runs/s with p50/p99 latency against a local control plane (a benchmark, not a test).")
public final class ControlPlaneBench implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "15", description = "Duration of each phase (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--warm-up-seconds", defaultValue = "5", description = "Untimed warm-up of each kind of call (default: ${DEFAULT-VALUE}).")
    int warmUpSeconds;

    @Option(names = "--concurrency", defaultValue = "16", description = "Concurrent clients per phase (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--simulated-workers", defaultValue = "500", description = "Registered workers the heartbeats come from (default: ${DEFAULT-VALUE}).")
    int simulatedWorkers;

    @Option(names = "--prompt-tokens", defaultValue = "64", description = "Prompt length of each benchmark run (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--out", defaultValue = "bench-results/control-plane.json", description = "JSON report (default: ${DEFAULT-VALUE}).")
    Path out;

    // Jackson 2 (the worker's), so that the command tree loads where the control plane's jars are absent
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String admin = UUID.randomUUID().toString();
    private final String join = UUID.randomUUID().toString();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private String base;

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("pipefill-bench-cp-");
        // under the control plane's default models root (<data-dir>/models), the only place it registers models from
        Path model = dir.resolve("models").resolve("tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 1).write(model);
        String[] args = {"--server.port=0", "--pipefill.data-dir=" + dir, "--pipefill.admin-token=" + admin,
                "--pipefill.join-token=" + join, "--pipefill.heartbeat-timeout=10m",
                "--pipefill.max-runs-in-flight=" + Math.max(64, concurrency * 2), "--logging.level.root=WARN",
                "--logging.level.io.pipefill=WARN"};
        try (LocalCluster cluster = LocalCluster.start(args, 2, 1)) {
            base = "http://127.0.0.1:" + cluster.port();
            System.err.println("control plane at " + base + "; deploying a tiny model on two local workers...");
            deploy(model);
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("date", Instant.now().toString());
            report.put("machine", Runtime.getRuntime().availableProcessors() + " cores, " + System.getProperty("java.vm.name")
                    + " " + System.getProperty("java.version"));
            report.put("seconds", seconds);
            report.put("concurrency", concurrency);
            List<String> ids = registerSimulatedWorkers();
            Call liveness = i -> get("/actuator/health/liveness", null);
            Call heartbeat = i -> post("/api/v1/agent/workers/" + ids.get(i % ids.size()) + "/heartbeat",
                    credentials.get(ids.get(i % ids.size())), "{\"state\":\"IDLE\",\"deploymentId\":null,\"runId\":null}");
            // warm-up (not recorded): the JIT compiles both paths before either is timed
            closedLoop(liveness, warmUpSeconds);
            closedLoop(heartbeat, warmUpSeconds);
            runPhase(1, warmUpSeconds);
            LatencyRecorder.Summary health = closedLoop(liveness, seconds);
            LatencyRecorder.Summary beats = closedLoop(heartbeat, seconds);
            report.put("livenessBaseline", health);
            report.put("heartbeats", beats);
            report.put("heartbeatP99OverLivenessP99", beats.p99Ms() / health.p99Ms());
            RunPhase single = runPhase(1, seconds);
            report.put("singleClientRuns", single.endToEnd);
            report.put("singleClientMeanTtftMs", single.meanTtftMs);
            report.put("singleClientOverheadMs", single.endToEnd.p50Ms() - single.meanTtftMs);
            RunPhase runs = runPhase(concurrency, seconds);
            report.put("runSubmissions", runs.submit);
            report.put("runsEndToEnd", runs.endToEnd);
            report.put("runMeanTtftMs", runs.meanTtftMs);
            report.put("runP50OverTtft", runs.endToEnd.p50Ms() / runs.meanTtftMs);
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report));
            System.out.printf("%nheartbeats   %8.0f /s   p50 %6.1f ms   p99 %6.1f ms   errors %d   (liveness baseline %6.0f /s, p99 %5.1f ms; p99 ratio %.2f)%n",
                    beats.perSecond(), beats.p50Ms(), beats.p99Ms(), beats.errors(), health.perSecond(), health.p99Ms(),
                    beats.p99Ms() / health.p99Ms());
            System.out.printf("one client: runs %5.1f /s   p50 %6.1f ms   p99 %6.1f ms   (mean TTFT %.1f ms: control-plane overhead %.0f ms per run)%n",
                    single.endToEnd.perSecond(), single.endToEnd.p50Ms(), single.endToEnd.p99Ms(), single.meanTtftMs,
                    single.endToEnd.p50Ms() - single.meanTtftMs);
            System.out.printf("submissions  %8.1f /s   p50 %6.1f ms   p99 %6.1f ms   errors %d %s%n", runs.submit.perSecond(),
                    runs.submit.p50Ms(), runs.submit.p99Ms(), runs.submit.errors(), runs.submit.errorsByStatus());
            System.out.printf("runs (submit→SUCCEEDED) %6.1f /s   p50 %6.1f ms   p99 %6.1f ms   (mean TTFT %.1f ms; p50 / TTFT %.1f)%n",
                    runs.endToEnd.perSecond(), runs.endToEnd.p50Ms(), runs.endToEnd.p99Ms(), runs.meanTtftMs,
                    runs.endToEnd.p50Ms() / runs.meanTtftMs);
            System.out.println("report: " + out);
        }
        return 0;
    }

    private void deploy(Path model) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (count(getJson("/api/v1/workers"), "IDLE") < 2) {
            check(deadline, "the local workers did not register");
            Thread.sleep(200);
        }
        postJson("/api/v1/models", admin, Map.of("name", "tiny", "location", model.toString()));
        postJson("/api/v1/deployments", admin, Map.of("name", "bench", "model", "tiny", "pp", 2, "chunkSize", 64, "maxTokens", 1024));
        while (!"READY".equals(getJson("/api/v1/deployments/bench").path("state").asText())) {
            check(deadline, "the deployment did not become READY");
            Thread.sleep(200);
        }
    }

    /** Each simulated worker's own credential, from its registration's answer: the bearer of its heartbeats. */
    private final Map<String, String> credentials = new java.util.concurrent.ConcurrentHashMap<>();

    private List<String> registerSimulatedWorkers() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < simulatedWorkers; i++) {
            Map<String, Object> reg = new LinkedHashMap<>();
            reg.put("nodeName", "sim-node-" + i / 8);
            reg.put("host", "10.1." + i / 250 + "." + i % 250);
            reg.put("cpuCores", 64);
            reg.put("memoryBytes", 1L << 40);
            reg.put("gpus", List.of(Map.of("model", "H100", "memoryBytes", 80L << 30, "count", 8)));
            reg.put("labels", Map.of());
            reg.put("backend", "cuda");
            reg.put("agentUrl", "http://10.1." + i / 250 + "." + i % 250 + ":9000");
            reg.put("podName", null);
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/agent/workers"))
                    .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + join)
                    .header("Pipefill-Agent-Token", "simulated-agent-token-" + UUID.randomUUID())
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(reg))).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) {
                throw new IllegalStateException("POST /api/v1/agent/workers: HTTP " + r.statusCode() + " " + r.body());
            }
            String id = JSON.readTree(r.body()).path("workerId").asText();
            credentials.put(id, r.headers().firstValue("Pipefill-Worker-Credential").orElseThrow());
            ids.add(id);
        }
        return ids;
    }

    @FunctionalInterface
    private interface Call {
        HttpResponse<String> send(int i) throws Exception;
    }

    private LatencyRecorder.Summary closedLoop(Call call, int seconds) throws InterruptedException {
        LatencyRecorder rec = new LatencyRecorder();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        long t0 = System.nanoTime();
        for (int c = 0; c < concurrency; c++) {
            pool.submit(() -> {
                while (System.nanoTime() < end) {
                    long s = System.nanoTime();
                    try {
                        HttpResponse<String> r = call.send(n.getAndIncrement());
                        if (r.statusCode() / 100 == 2) {
                            rec.ok((System.nanoTime() - s) / 1e6);
                        } else {
                            rec.error(r.statusCode());
                        }
                    } catch (Exception e) {
                        rec.error(0);
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(seconds + 60L, TimeUnit.SECONDS);
        return rec.summary((System.nanoTime() - t0) / 1e9);
    }

    private record RunPhase(LatencyRecorder.Summary submit, LatencyRecorder.Summary endToEnd, double meanTtftMs) {
    }

    /** Each client submits a run, polls it to its end, and goes again; 429s are counted, not retried at once. */
    private RunPhase runPhase(int clients, int seconds) throws InterruptedException {
        LatencyRecorder submit = new LatencyRecorder();
        LatencyRecorder e2e = new LatencyRecorder();
        List<Double> ttfts = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        String body = "{\"deployment\":\"bench\",\"randomTokens\":" + promptTokens + ",\"maxNewTokens\":1}";
        long t0 = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            pool.submit(() -> {
                while (System.nanoTime() < end) {
                    long s = System.nanoTime();
                    try {
                        HttpResponse<String> r = post("/api/v1/runs", admin, body);
                        if (r.statusCode() != 201) {
                            submit.error(r.statusCode());
                            Thread.sleep(20);
                            continue;
                        }
                        submit.ok((System.nanoTime() - s) / 1e6);
                        String id = JSON.readTree(r.body()).path("id").asText();
                        while (true) {
                            JsonNode run = JSON.readTree(get("/api/v1/runs/" + id, admin).body());
                            String state = run.path("state").asText();
                            if ("SUCCEEDED".equals(state)) {
                                e2e.ok((System.nanoTime() - s) / 1e6);
                                synchronized (ttfts) {
                                    ttfts.add(run.path("ttftMs").asDouble());
                                }
                                break;
                            }
                            if ("FAILED".equals(state)) {
                                e2e.error(500);
                                break;
                            }
                            Thread.sleep(5);
                        }
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        submit.error(0);
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(seconds + 120L, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        double meanTtft = ttfts.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        return new RunPhase(submit.summary(secs), e2e.summary(secs), meanTtft);
    }

    private HttpResponse<String> get(String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET();
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String token, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode getJson(String path) throws Exception {
        HttpResponse<String> r = get(path, admin);
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET " + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private JsonNode postJson(String path, String token, Object body) throws Exception {
        HttpResponse<String> r = post(path, token, JSON.writeValueAsString(body));
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("POST " + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private static long count(JsonNode workers, String state) {
        long n = 0;
        for (JsonNode w : workers) {
            if (state.equals(w.path("state").asText())) {
                n++;
            }
        }
        return n;
    }

    private static void check(long deadline, String what) {
        if (System.nanoTime() > deadline) {
            throw new IllegalStateException(what + " within 120 s");
        }
    }
}
