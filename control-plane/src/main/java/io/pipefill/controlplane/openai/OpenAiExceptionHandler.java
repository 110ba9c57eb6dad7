package io.pipefill.controlplane.openai;

import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.NotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;

/**
 * Errors of the OpenAI routes in OpenAI's shape (not problem+json): 400 invalid_request_error naming the field,
 * 404 model_not_found, 409 when the deployment cannot take runs now, 429 when the control plane holds as many runs
 * as it takes ({@code pipefill.max-runs-in-flight}), 500 server_error with the run's failure.
 */
@RestControllerAdvice(assignableTypes = OpenAiController.class)
@Order(Ordered.HIGHEST_PRECEDENCE)
class OpenAiExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(OpenAiExceptionHandler.class);

    @ExceptionHandler(OpenAiException.class)
    ResponseEntity<OpenAiError> openAi(OpenAiException e) {
        return error(e.status, e.type, e.param, e.code, e.getMessage());
    }

    @ExceptionHandler(BulkheadFullException.class)
    ResponseEntity<OpenAiError> busy(BulkheadFullException e) {
        return error(HttpStatus.TOO_MANY_REQUESTS, "requests", null, "rate_limit_exceeded", "the control plane holds as"
                + " many queued and running requests as it takes (pipefill.max-runs-in-flight; " + e.getMessage()
                + "); retry later");
    }

    @ExceptionHandler({IllegalArgumentException.class, InvalidFieldsException.class})
    ResponseEntity<OpenAiError> invalid(RuntimeException e) {
        String message = e instanceof InvalidFieldsException f ? f.problems().stream()
                .map(p -> p.field() + ": " + p.message()).reduce((a, b) -> a + "; " + b).orElse(e.getMessage()) : e.getMessage();
        return error(HttpStatus.BAD_REQUEST, "invalid_request_error", null, null, message);
    }

    @ExceptionHandler(NotFoundException.class)
    ResponseEntity<OpenAiError> notFound(NotFoundException e) {
        return error(HttpStatus.NOT_FOUND, "invalid_request_error", null, "not_found", e.getMessage());
    }

    @ExceptionHandler(ConflictException.class)
    ResponseEntity<OpenAiError> conflict(ConflictException e) {
        return error(HttpStatus.CONFLICT, "invalid_request_error", "model", "model_not_ready", e.getMessage());
    }

    @ExceptionHandler(ServerWebInputException.class)
    ResponseEntity<OpenAiError> unreadable(ServerWebInputException e) {
        String reason = e.getReason() == null ? "" : e.getReason();
        return error(HttpStatus.BAD_REQUEST, "invalid_request_error", null, null, reason.contains("body")
                ? "the request needs a JSON body" : "the request body is not valid JSON: " + reason);
    }

    @ExceptionHandler(ResponseStatusException.class)
    ResponseEntity<OpenAiError> status(ResponseStatusException e) {
        return error(HttpStatus.valueOf(e.getStatusCode().value()), "invalid_request_error", null, null,
                e.getReason() != null ? e.getReason() : e.getMessage());
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<OpenAiError> unexpected(Exception e, ServerWebExchange exchange) {
        log.error("{} {} failed", exchange.getRequest().getMethod(), exchange.getRequest().getPath().value(), e);
        return error(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null, null, "internal error ("
                + e.getClass().getSimpleName() + "); the control plane's log has the details");
    }

    private static ResponseEntity<OpenAiError> error(HttpStatus status, String type, String param, String code, String message) {
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_JSON)
                .body(OpenAiError.of(message, type, param, code));
    }
}
