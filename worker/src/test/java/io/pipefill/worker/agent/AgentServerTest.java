package io.pipefill.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The agent API's server limits against real sockets: idle connections are closed, a request dripped byte by byte
 * is cut at its deadline, and connections past the cap are closed at once while requests are still answered.
 * (That silent and half-open connections do not stop a real agent's API is {@code WorkerAgentTest}'s.)
 */
class AgentServerTest {
    /** A server answering every request 401 (no token is ever right): enough to see requests served. */
    private static AgentServer server(AgentServer.Limits limits) throws Exception {
        AgentServer s = new AgentServer("127.0.0.1", 0, new AgentHttp(null, "the-agent-token-that-nobody-sends-in-this-test"), limits);
        s.start();
        return s;
    }

    private static int status(AgentServer s) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.address().getPort() + "/agent/status"))
                .timeout(Duration.ofSeconds(3)).build();
        return HttpClient.newHttpClient().send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** Milliseconds until the server closes this socket (reads EOF), or -1 when it is still open after {@code maxMs}. */
    private static long closedWithin(Socket s, long maxMs) throws Exception {
        long t0 = System.nanoTime();
        s.setSoTimeout((int) maxMs);
        try {
            InputStream in = s.getInputStream();
            while (in.read() != -1) {
                // drain an answer, if any, until the close
            }
            return (System.nanoTime() - t0) / 1_000_000;
        } catch (SocketTimeoutException e) {
            return -1;
        } catch (java.net.SocketException e) {
            return (System.nanoTime() - t0) / 1_000_000; // reset: closed too
        }
    }

    @Test
    void aSilentConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        try (AgentServer s = server(new AgentServer.Limits(300, 10_000, 100));
             Socket silent = new Socket()) {
            silent.connect(new InetSocketAddress("127.0.0.1", s.address().getPort()));
            long ms = closedWithin(silent, 5_000);
            assertTrue(ms >= 0 && ms < 3_000, "a silent connection is closed after the idle timeout, took " + ms + " ms");
        }
    }

    @Test
    void aDrippedRequestIsCutAtItsDeadline() throws Exception {
        try (AgentServer s = server(new AgentServer.Limits(2_000, 600, 100));
             Socket drip = new Socket()) {
            drip.connect(new InetSocketAddress("127.0.0.1", s.address().getPort()));
            OutputStream out = drip.getOutputStream();
            byte[] request = "GET /agent/status HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII);
            long t0 = System.nanoTime();
            boolean cut = false;
            // one byte every 100 ms never lets the connection idle, but the request never completes
            for (int i = 0; i < 40 && !cut; i++) {
                try {
                    out.write(request[i % request.length]);
                    out.flush();
                } catch (java.io.IOException closed) {
                    cut = true;
                }
                Thread.sleep(100);
                drip.setSoTimeout(1);
                try {
                    cut |= drip.getInputStream().read() == -1;
                } catch (SocketTimeoutException stillOpen) {
                    // not yet
                } catch (java.net.SocketException reset) {
                    cut = true;
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(cut, "a request dripped for 4 s was never cut");
            assertTrue(ms < 2_500, "the dripped request was cut after " + ms + " ms, its deadline is 600 ms");
        }
    }

    @Test
    void connectionsPastTheCapAreClosedAndRequestsAreStillAnswered() throws Exception {
        List<Socket> held = new ArrayList<>();
        try (AgentServer s = server(new AgentServer.Limits(30_000, 30_000, 20))) {
            for (int i = 0; i < 19; i++) {
                Socket k = new Socket();
                k.connect(new InetSocketAddress("127.0.0.1", s.address().getPort()));
                held.add(k);
            }
            assertEquals(401, status(s), "one below the cap: answered");
            for (int i = 0; i < 5; i++) {
                Socket k = new Socket();
                k.connect(new InetSocketAddress("127.0.0.1", s.address().getPort()));
                held.add(k);
            }
            Socket extra = held.get(held.size() - 1);
            assertTrue(closedWithin(extra, 3_000) >= 0, "a connection past the cap is closed");
            held.subList(0, 10).forEach(AgentServerTest::closeQuietly);
            Thread.sleep(200);
            assertEquals(401, status(s), "once connections close, requests are answered again");
        } finally {
            held.forEach(AgentServerTest::closeQuietly);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (java.io.IOException ignored) {
            // closing
        }
    }
}
