package io.pipefill.controlplane.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;

/**
 * The 429 mapping on its own: no route of this package fills a bulkhead (run submission does), so the handler
 * is called directly with the exception Resilience4j throws.
 */
class ApiExceptionHandlerTest {
    @Test
    void fullBulkheadIs429ProblemJson() {
        var exchange = MockServerWebExchange.from(MockServerHttpRequest.post("/api/v1/runs"));
        BulkheadFullException full = BulkheadFullException.createBulkheadFullException(Bulkhead.ofDefaults("runs"));
        ResponseEntity<ProblemDetail> r = new ApiExceptionHandler().busy(full, exchange);
        assertThat(r.getStatusCode().value()).isEqualTo(429);
        assertThat(r.getHeaders().getContentType()).isEqualTo(MediaType.APPLICATION_PROBLEM_JSON);
        assertThat(r.getBody().getDetail()).contains("too many requests in flight").contains("runs").contains("retry later");
        assertThat(r.getBody().getInstance()).hasToString("/api/v1/runs");
    }
}
