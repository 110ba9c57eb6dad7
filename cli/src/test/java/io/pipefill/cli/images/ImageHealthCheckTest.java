package io.pipefill.cli.images;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images' HEALTHCHECK command ({@code pipefill-health} of the staged layout) against real listeners: a worker
 * agent started by the image's entry point as the worker images start it, on a non-loopback address where this
 * machine has one (a pod's agent binds its pod IP, not 127.0.0.1), and an HTTP endpoint that answers 200 or 503
 * as the control plane's /actuator/health does.
 */
class ImageHealthCheckTest {
    @TempDir
    Path workDir;

    @Test
    void tcpIsHealthyWhileTheWorkersAgentListensAndUnhealthyOnceItIsGone() throws Exception {
        Path home = StagedImageLayout.home();
        String host = nonLoopbackAddress();
        int port = freePort();
        Path token = Files.writeString(workDir.resolve("join-token"), "not-a-real-token-the-agent-only-sends-it\n");
        // no control plane answers at port 1: the agent serves its API anyway and retries joining in the background
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/pipefill").toString(), "worker",
                "--control-plane", "http://127.0.0.1:1", "--join-token-file", token.toString(),
                "--agent-host", host, "--agent-port", String.valueOf(port), "--node-name", "health-test")
                .directory(workDir.toFile()).redirectErrorStream(true).redirectOutput(workDir.resolve("worker.log").toFile());
        ImageProcesses.bareEnvironment(pb, workDir);
        assertThat(health("tcp", port).exit()).as("before the worker starts").isEqualTo(1);
        Process worker = pb.start();
        try {
            Health healthy = awaitHealthy(worker, port);
            assertThat(healthy.exit()).as("%s; worker log: %s", healthy.output(), log()).isZero();
        } finally {
            worker.destroy();
            if (!worker.waitFor(20, TimeUnit.SECONDS)) {
                worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        Health gone = health("tcp", port);
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(gone.output()).contains("nothing listens on TCP port " + port);
    }

    @Test
    void httpIsHealthyOnA200AndUnhealthyOnAnythingElse() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(nonLoopbackAddress()), 0), 0);
        server.createContext("/actuator/health", exchange -> respond(exchange, 200, "{\"status\":\"UP\"}"));
        server.createContext("/down", exchange -> respond(exchange, 503, "{\"status\":\"DOWN\"}"));
        server.start();
        try {
            int port = server.getAddress().getPort();
            Health up = health("http", port, "/actuator/health");
            assertThat(up.exit()).as(up.output()).isZero();
            Health down = health("http", port, "/down");
            assertThat(down.exit()).isEqualTo(1);
            assertThat(down.output()).contains("GET /down").contains("503");
        } finally {
            server.stop(0);
        }
        assertThat(health("http", freePort(), "/actuator/health").output()).contains("nothing listens");
        Health usage = health("udp", 80);
        assertThat(usage.exit()).as("a wrong mode is a usage error, not a health verdict").isEqualTo(2);
    }

    private static void respond(com.sun.net.httpserver.HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (var out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    record Health(int exit, String output) {
    }

    private Health awaitHealthy(Process worker, int port) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(90));
        Health last = health("tcp", port);
        while (last.exit() != 0 && Instant.now().isBefore(deadline)) {
            assertThat(worker.isAlive()).as("the worker ended: %s", log()).isTrue();
            Thread.sleep(300);
            last = health("tcp", port);
        }
        return last;
    }

    private String log() throws IOException {
        return Files.readString(workDir.resolve("worker.log"));
    }

    private Health health(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(StagedImageLayout.home().resolve("bin/pipefill-health").toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(workDir, "health", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
        ImageProcesses.bareEnvironment(pb, workDir);
        Process p = pb.start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("pipefill-health " + List.of(args) + " did not end within 30 s");
        }
        return new Health(p.exitValue(), Files.readString(out));
    }

    private Health health(String mode, int port, String... rest) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of(mode, String.valueOf(port)));
        args.addAll(List.of(rest));
        return health(args.toArray(String[]::new));
    }

    /** This machine's first non-loopback IPv4 address (as a pod's IP), else 127.0.0.1. */
    private static String nonLoopbackAddress() throws IOException {
        for (NetworkInterface nic : NetworkInterface.networkInterfaces().toList()) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress a : nic.inetAddresses().toList()) {
                if (a instanceof Inet4Address) {
                    return a.getHostAddress();
                }
            }
        }
        return "127.0.0.1";
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
