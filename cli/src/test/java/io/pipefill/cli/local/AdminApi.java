package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.json.JsonMapper;

/**
 * The admin REST API of a control plane under test, as the whole-system tests call it: JSON calls that assert
 * their status (the body in the failure message), and polling until a resource reaches a state.
 */
final class AdminApi {
    private final int port;
    private final String adminToken;

    AdminApi(int port, String adminToken) {
        this.port = port;
        this.adminToken = adminToken;
    }

    WebTestClient client() {
        return WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(30))
                .codecs(c -> c.defaultCodecs().maxInMemorySize(16 << 20))
                .defaultHeader("Authorization", "Bearer " + adminToken).build();
    }

    <T> T expect(WebTestClient.ResponseSpec response, int status, Class<T> type) {
        EntityExchangeResult<byte[]> r = response.expectBody().returnResult();
        assertThat(r.getStatus().value()).as("%s %s: %s", r.getMethod(), r.getUrl(),
                r.getResponseBody() == null ? "" : new String(r.getResponseBody())).isEqualTo(status);
        return JsonMapper.builder().build().readValue(r.getResponseBody(), type);
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> get(String path) {
        return expect(client().get().uri(path).exchange(), 200, Map.class);
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> list(String path) {
        return expect(client().get().uri(path).exchange(), 200, List.class);
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> post(String path, Object body) {
        return expect(client().post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange(), 201,
                Map.class);
    }

    /** Polls {@code path} every 100 ms until {@code done} holds, failing with the last state after {@code within}. */
    Map<String, Object> await(String path, Predicate<Map<String, Object>> done, Duration within) throws InterruptedException {
        return poll(path, this::get, done, within);
    }

    /** Reads {@code path} with {@code read} every 100 ms until {@code done} holds, failing with the last answer after {@code within}. */
    static <T> T poll(String path, Function<String, T> read, Predicate<T> done, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        T last = null;
        while (System.nanoTime() < deadline) {
            last = read.apply(path);
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(path + " did not reach the expected state within " + within + "; last: " + last);
    }

    /** Waits until at least {@code count} workers are IDLE. */
    void awaitIdleWorkers(int count, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (list("/api/v1/workers").stream().filter(w -> "IDLE".equals(w.get("state"))).count() < count) {
            assertThat(System.nanoTime()).as("%d idle workers within %s", count, within).isLessThan(deadline);
            Thread.sleep(200);
        }
    }
}
