package io.pipefill.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pipefill.e2e.support.Pipefill;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/**
 * The README's main command as a user runs it: {@code pipefill up} through the launcher in its own process (the
 * embedded PostgreSQL, two local worker processes, the tiny preset generated and deployed), driven
 * over HTTP with the request it prints. Then a restart on the same data directory (records and tokens
 * kept, the model deployed again), a SIGKILL of the control plane (its workers must end too) and a start
 * after that crash (the orphaned database server is taken over).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipefillUpTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration READY_WITHIN = Duration.ofMinutes(3);
    private static final String READY = "pipefill: deployment tiny is READY";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dataDir;
    static int port;
    static String firstRunId;
    static String interruptedRunId;
    static Up running;
    /** Each test goes on from where the one before left off: a failure skips the rest rather than failing them too. */
    static boolean stoppedCleanly;
    static boolean restarted;
    /** What outlived a killed control plane (its database server, by design): stopped at the end whatever happens. */
    static final List<ProcessHandle> leftovers = new ArrayList<>();
    /** Every start, so that none outlives the class whichever test fails. */
    static final List<Up> started = new ArrayList<>();

    /** A running {@code pipefill up}: the launcher's process and what it printed so far. */
    record Up(Pipefill pipefill) {
        Process process() {
            return pipefill.process();
        }

        List<String> snapshot() {
            return pipefill.snapshot();
        }

        String await(Predicate<String> match, Duration within, String what) throws InterruptedException {
            return pipefill.await(match, within, what);
        }
    }

    private static Up start(int n) {
        Up up = new Up(Pipefill.start("pipefill-up-" + n, Map.of(), "up", "--port", String.valueOf(port), "--model", "tiny",
                "--local-workers", "2", "--max-tokens", "8192", "--data-dir", dataDir.toString()));
        running = up;
        started.add(up);
        return up;
    }

    private static String adminToken() throws IOException {
        return Files.readString(dataDir.resolve("admin-token")).trim();
    }

    private static HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
        return HTTP.send(b.timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + adminToken()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> getRun(String id) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/runs/" + id)));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readValue(r.body(), Map.class);
    }

    private static Map<String, Object> awaitFinished(String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            Map<String, Object> run = getRun(id);
            if (run.get("state").equals("SUCCEEDED") || run.get("state").equals("FAILED")) {
                return run;
            }
            Thread.sleep(200);
        }
        return fail("run " + id + " did not finish within 2 min");
    }

    private static void awaitState(String id, String state) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!getRun(id).get("state").equals(state)) {
            if (System.nanoTime() > deadline) {
                fail("run " + id + " not " + state + " within 30 s: " + getRun(id));
            }
            Thread.sleep(50);
        }
    }

    /** The API answers on loopback but not on this machine's other addresses (it binds 127.0.0.1 by default). */
    private static void assertListensOnLoopbackOnly() throws IOException {
        List<InetAddress> others = NetworkInterface.networkInterfaces().flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).toList();
        for (InetAddress a : others) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a, port), 2000);
                fail("the API answers on " + a.getHostAddress() + ":" + port + "; pipefill up must listen on 127.0.0.1 only");
            } catch (ConnectException refused) {
                // as it should
            }
        }
    }

    /** Submits the run that {@code pipefill up} printed, with the body and URL it printed; checks its record. */
    @SuppressWarnings("unchecked")
    private static String submitThePrintedRequest(Up up) throws Exception {
        List<String> out = up.snapshot();
        int ready = -1;
        for (int i = 0; i < out.size(); i++) {
            if (out.get(i).startsWith(READY)) {
                ready = i;
            }
        }
        List<String> request = out.subList(ready, Math.min(out.size(), ready + 8));
        String text = String.join("\n", request);
        Matcher token = Pattern.compile("Bearer \\$\\(cat ([^)]+)\\)").matcher(text);
        Matcher body = Pattern.compile("-d '([^']+)'").matcher(text);
        Matcher url = Pattern.compile("(http://127\\.0\\.0\\.1:\\d+/api/v1/runs)").matcher(text);
        assertThat(token.find() && body.find() && url.find()).as("the printed request:\n%s", text).isTrue();
        assertThat(Path.of(token.group(1))).isEqualTo(dataDir.resolve("admin-token"));
        assertThat(url.group(1)).isEqualTo("http://127.0.0.1:" + port + "/api/v1/runs");

        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url.group(1)))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.group(1))));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        String id = (String) JSON.readValue(r.body(), Map.class).get("id");
        Map<String, Object> run = awaitFinished(id);
        assertThat(run.get("state")).as("run %s: %s", id, run.get("error")).isEqualTo("SUCCEEDED");
        Map<String, Object> asked = JSON.readValue(body.group(1), Map.class);
        assertThat(run.get("promptTokens")).isEqualTo(asked.get("randomTokens"));
        assertThat((List<Integer>) run.get("generated")).hasSize((Integer) asked.get("maxNewTokens"));
        assertThat(((List<Integer>) run.get("chunkSchedule")).stream().mapToInt(Integer::intValue).sum())
                .isEqualTo(asked.get("randomTokens"));
        assertThat((Double) run.get("ttftMs")).isPositive();
        return id;
    }

    /** The local workers: the JVMs among its children (the others are the database server's processes). */
    private static List<ProcessHandle> workersOf(Up up) {
        return up.process().children().filter(h -> h.info().command().orElse("").endsWith("/java")).toList();
    }

    private static void awaitGone(List<ProcessHandle> processes, Duration within, String what) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (processes.stream().anyMatch(ProcessHandle::isAlive)) {
            if (System.nanoTime() > deadline) {
                fail(what + " still running after " + within.toSeconds() + " s: "
                        + processes.stream().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).toList());
            }
            Thread.sleep(100);
        }
    }

    @Test
    @Order(1)
    void firstStartGeneratesTheTokensDeploysTheModelServesThePrintedRequestAndStopsInOrder() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Up up = start(1);
        up.await(l -> l.startsWith(READY), READY_WITHIN, "READY line");
        String token = adminToken();
        String join = Files.readString(dataDir.resolve("join-token")).trim();
        // where the tokens are, never the tokens: this output lands in container and service logs
        assertThat(up.snapshot()).contains("pipefill: generated the admin token into " + dataDir.resolve("admin-token")
                + " (mode 600, readable by this user only)").noneMatch(l -> l.contains(token) || l.contains(join));
        for (String file : List.of("admin-token", "join-token")) {
            assertThat(Files.getPosixFilePermissions(dataDir.resolve(file)))
                    .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        }
        assertThat(workersOf(up)).hasSize(2);
        assertListensOnLoopbackOnly();

        firstRunId = submitThePrintedRequest(up);

        // the event stream replays the run from its first event and ends with its final state
        HttpResponse<Stream<String>> sse = HTTP.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/api/v1/runs/" + firstRunId + "/events"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofLines());
        List<String> data = sse.body().filter(l -> l.startsWith("data:")).toList();
        assertThat(data.get(0)).contains("\"state\":\"QUEUED\"");
        assertThat(data.get(data.size() - 1)).contains("\"kind\":\"STATE\"").contains("\"state\":\"SUCCEEDED\"");
        assertThat(data).anyMatch(l -> l.contains("\"kind\":\"PROGRESS\""));

        // a graceful stop (SIGTERM) in the middle of a run: the run is aborted and recorded FAILED before the
        // database stops (it stops last), its event stream ends with that state, and the stop takes the workers
        // and the database server with it
        HttpResponse<String> submitted = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/runs"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"deployment\":\"tiny\",\"randomTokens\":4096,\"maxNewTokens\":4000}")));
        assertThat(submitted.statusCode()).as(submitted.body()).isEqualTo(201);
        interruptedRunId = (String) JSON.readValue(submitted.body(), Map.class).get("id");
        awaitState(interruptedRunId, "RUNNING");
        CompletableFuture<List<String>> stream = HTTP.sendAsync(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/api/v1/runs/" + interruptedRunId + "/events"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofLines()).thenApply(r -> r.body().filter(l -> l.startsWith("data:")).toList());
        Thread.sleep(300); // the stream is open and has replayed the run so far
        assertThat(getRun(interruptedRunId).get("state")).as("still running when the SIGTERM comes").isEqualTo("RUNNING");
        List<ProcessHandle> children = up.process().descendants().toList();
        up.process().destroy();
        List<String> events = stream.get(60, TimeUnit.SECONDS);
        assertThat(events).as("the interrupted run's event stream").isNotEmpty();
        assertThat(events.get(events.size() - 1)).contains("\"kind\":\"STATE\"").contains("\"state\":\"FAILED\"")
                .contains("the control plane shut down while the run was RUNNING");
        assertThat(up.process().waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
        awaitGone(children, Duration.ofSeconds(30), "children of the stopped control plane");
        assertThat(up.snapshot()).as("the run thread found the database up").noneMatch(l -> l.contains("failed before it started"));
        stoppedCleanly = true;
    }

    @Test
    @Order(2)
    void aRestartKeepsTheRecordsAndTokensAndDeploysAgain() throws Exception {
        assumeTrue(stoppedCleanly, "the first start did not get through; its failure says why");
        String token = adminToken();
        Up up = start(2);
        up.await(l -> l.startsWith(READY), READY_WITHIN, "READY line");
        assertThat(up.snapshot()).noneMatch(l -> l.contains(token)).noneMatch(l -> l.contains(" token (saved in "))
                .noneMatch(l -> l.contains("pipefill: generated the "));
        assertThat(adminToken()).isEqualTo(token);
        assertThat(getRun(firstRunId).get("state")).isEqualTo("SUCCEEDED");
        // recorded by the stopping control plane itself, not failed by this start as an orphan
        Map<String, Object> interrupted = getRun(interruptedRunId);
        assertThat(interrupted.get("state")).isEqualTo("FAILED");
        assertThat(interrupted.get("error")).isEqualTo("the control plane shut down while the run was RUNNING");
        submitThePrintedRequest(up);
        restarted = true;
    }

    /** A control plane killed without its hooks: its workers end by themselves, and the next start recovers. */
    @Test
    @Order(3)
    void workersEndWithAKilledControlPlaneAndTheNextStartRecovers() throws Exception {
        assumeTrue(restarted, "the restart did not get through; its failure says why");
        Up up = running;
        List<ProcessHandle> workers = workersOf(up);
        assertThat(workers).hasSize(2);
        leftovers.addAll(up.process().descendants().toList());
        up.process().destroyForcibly();
        up.process().waitFor();
        awaitGone(workers, Duration.ofSeconds(20), "local workers of the killed control plane");

        Up again = start(3);
        again.await(l -> l.startsWith(READY), READY_WITHIN, "READY line after a crash");
        assertThat(getRun(firstRunId).get("state")).isEqualTo("SUCCEEDED");
        submitThePrintedRequest(again);
    }

    @AfterAll
    static void stop() {
        started.forEach(up -> up.pipefill().close());
        leftovers.forEach(ProcessHandle::destroyForcibly);
    }
}
