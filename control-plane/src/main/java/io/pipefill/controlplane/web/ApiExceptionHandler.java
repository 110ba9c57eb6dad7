package io.pipefill.controlplane.web;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.pipefill.controlplane.common.ConflictException;
import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.controlplane.common.NotFoundException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.TypeMismatchException;
import org.springframework.core.MethodParameter;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.validation.FieldError;
import org.springframework.validation.ObjectError;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.bind.support.WebExchangeBindException;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.exc.InvalidTypeIdException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Every error as {@code application/problem+json}, with a detail that says what was wrong and what is allowed:
 * IllegalArgumentException → 400, NotFoundException → 404, ConflictException (and a unique-key clash) → 409,
 * invalid fields → 400 with an {@code errors} list of {field, message}, unreadable input (bad JSON, bad enum
 * value, bad UUID in the path) → 400, a full bulkhead → 429, the database out of reach → 503 with Retry-After (nothing
 * was written: each change is one transaction), Spring's own status errors (unknown route 404,
 * wrong method 405, ...) keep their status. Anything else is a 500 whose detail hides the internals (logged).
 */
@RestControllerAdvice
public class ApiExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

    @ExceptionHandler(IllegalArgumentException.class)
    ResponseEntity<ProblemDetail> badRequest(IllegalArgumentException e, ServerWebExchange exchange) {
        return problem(HttpStatus.BAD_REQUEST, e.getMessage(), exchange);
    }

    @ExceptionHandler(NotFoundException.class)
    ResponseEntity<ProblemDetail> notFound(NotFoundException e, ServerWebExchange exchange) {
        return problem(HttpStatus.NOT_FOUND, e.getMessage(), exchange);
    }

    @ExceptionHandler(ConflictException.class)
    ResponseEntity<ProblemDetail> conflict(ConflictException e, ServerWebExchange exchange) {
        return problem(HttpStatus.CONFLICT, e.getMessage(), exchange);
    }

    /** Two requests raced past the "is the name free" check: the unique index decides. */
    @ExceptionHandler(DuplicateKeyException.class)
    ResponseEntity<ProblemDetail> duplicate(DuplicateKeyException e, ServerWebExchange exchange) {
        return problem(HttpStatus.CONFLICT, "a record with the same unique name already exists", exchange);
    }

    @ExceptionHandler(BulkheadFullException.class)
    ResponseEntity<ProblemDetail> busy(BulkheadFullException e, ServerWebExchange exchange) {
        return problem(HttpStatus.TOO_MANY_REQUESTS, "too many requests in flight (" + e.getMessage()
                + "); retry later", exchange);
    }

    /** The database is down or unreachable (a restart, a network cut): the client may retry; the pool reconnects by itself. */
    @ExceptionHandler({DataAccessResourceFailureException.class, TransientDataAccessResourceException.class})
    ResponseEntity<ProblemDetail> databaseUnavailable(RuntimeException e, ServerWebExchange exchange) {
        log.warn("{} {}: the database is unreachable: {}", exchange.getRequest().getMethod(),
                exchange.getRequest().getPath().value(), e.getMessage());
        ResponseEntity<ProblemDetail> r = problem(HttpStatus.SERVICE_UNAVAILABLE, "the control plane's database is "
                + "unreachable; nothing was changed. Retry in a few seconds", exchange);
        return ResponseEntity.status(r.getStatusCode()).headers(r.getHeaders())
                .header(HttpHeaders.RETRY_AFTER, "5").body(r.getBody());
    }

    @ExceptionHandler(InvalidFieldsException.class)
    ResponseEntity<ProblemDetail> invalidFields(InvalidFieldsException e, ServerWebExchange exchange) {
        return fields(e.problems(), exchange);
    }

    @ExceptionHandler(WebExchangeBindException.class)
    ResponseEntity<ProblemDetail> invalidBody(WebExchangeBindException e, ServerWebExchange exchange) {
        List<FieldProblem> problems = new ArrayList<>();
        for (ObjectError error : e.getAllErrors()) {
            String field = error instanceof FieldError f ? f.getField() : error.getObjectName();
            String message = error.getDefaultMessage();
            if (error instanceof FieldError f && f.getRejectedValue() != null && !(f.getRejectedValue() instanceof Iterable<?>)) {
                message += " (got " + shown(f.getRejectedValue()) + ")";
            }
            problems.add(new FieldProblem(field, message));
        }
        problems.sort(java.util.Comparator.comparing(FieldProblem::field));
        return fields(problems, exchange);
    }

    /** A rejected value as the answer quotes it: short ones whole, long ones (a 1 MB name) by their length only. */
    static String shown(Object value) {
        String s = String.valueOf(value);
        return s.length() <= 80 ? "'" + s + "'" : "a value of " + s.length() + " characters";
    }

    /** Bad JSON, a value of the wrong type or enum, a path variable or parameter that does not convert, no body. */
    @ExceptionHandler(ServerWebInputException.class)
    ResponseEntity<ProblemDetail> unreadable(ServerWebInputException e, ServerWebExchange exchange) {
        return problem(HttpStatus.BAD_REQUEST, inputMessage(e), exchange);
    }

    @ExceptionHandler(ResponseStatusException.class)
    ResponseEntity<ProblemDetail> status(ResponseStatusException e, ServerWebExchange exchange) {
        HttpStatusCode code = e.getStatusCode();
        String detail = code.value() == 404 ? "no route " + exchange.getRequest().getMethod() + " "
                + exchange.getRequest().getPath().value() + "; the API is under /api/v1 (see /v3/api-docs)"
                : e.getReason() != null ? e.getReason() : e.getBody().getDetail();
        return problem(code, detail, exchange);
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<ProblemDetail> unexpected(Exception e, ServerWebExchange exchange) {
        log.error("{} {} failed", exchange.getRequest().getMethod(), exchange.getRequest().getPath().value(), e);
        return problem(HttpStatus.INTERNAL_SERVER_ERROR, "internal error (" + e.getClass().getSimpleName()
                + "); the control plane's log has the details", exchange);
    }

    static String inputMessage(ServerWebInputException e) {
        MethodParameter p = e.getMethodParameter();
        Throwable cause = e.getCause();
        if (cause instanceof TypeMismatchException t && p != null) {
            String kind = p.hasParameterAnnotation(PathVariable.class) ? "path variable"
                    : p.hasParameterAnnotation(RequestParam.class) ? "query parameter" : "parameter";
            Class<?> type = t.getRequiredType();
            String allowed = type == null ? "" : type.isEnum() ? "one of " + constants(type)
                    : type == java.util.UUID.class ? "a UUID" : "a " + type.getSimpleName();
            return kind + " '" + parameterName(p, t) + "': '" + t.getValue() + "' is not " + allowed;
        }
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof JacksonException j) {
                return jsonMessage(j);
            }
        }
        String reason = e.getReason() == null ? "" : e.getReason();
        if (reason.contains("No request body") || reason.contains("body is missing")) {
            return "the request needs a JSON body";
        }
        return reason.isEmpty() ? "unreadable request" : reason;
    }

    /** The name the route uses: the annotation's, else the compiled parameter name. */
    private static String parameterName(MethodParameter p, TypeMismatchException t) {
        PathVariable pv = p.getParameterAnnotation(PathVariable.class);
        if (pv != null && !pv.name().isEmpty()) {
            return pv.name();
        }
        RequestParam rp = p.getParameterAnnotation(RequestParam.class);
        if (rp != null && !rp.name().isEmpty()) {
            return rp.name();
        }
        return t.getPropertyName() != null ? t.getPropertyName() : String.valueOf(p.getParameterName());
    }

    private static String jsonMessage(JacksonException j) {
        String field = j.getPath().stream().map(r -> r.getPropertyName() != null ? r.getPropertyName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
        String where = field.isEmpty() ? "request body" : "field '" + field + "'";
        if (j instanceof UnrecognizedPropertyException u) {
            return "unknown " + where + "; allowed fields: " + u.getKnownPropertyIds();
        }
        if (j instanceof InvalidTypeIdException t) {
            // a polymorphic object (a rank report): name the type ids its base type declares
            JsonSubTypes known = t.getBaseType() == null ? null : t.getBaseType().getRawClass().getAnnotation(JsonSubTypes.class);
            String allowed = known == null ? "" : "; one of " + Arrays.stream(known.value()).map(JsonSubTypes.Type::name)
                    .collect(Collectors.joining(", "));
            return where + ": " + (t.getTypeId() == null ? "'type' missing" : "type '" + t.getTypeId() + "' is not known")
                    + allowed;
        }
        if (j instanceof MismatchedInputException m && m.getTargetType() != null) {
            Class<?> type = m.getTargetType();
            if (type.isEnum()) {
                Object value = j instanceof tools.jackson.databind.exc.InvalidFormatException f ? f.getValue() : null;
                return where + ": " + (value == null ? "invalid value" : "'" + value + "'") + " is not one of " + constants(type);
            }
            return where + ": expected " + describe(type);
        }
        return "malformed JSON in " + where + ": " + j.getOriginalMessage();
    }

    private static String describe(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "an integer";
        }
        if (type == double.class || type == Double.class) {
            return "a number";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        return type.isRecord() || java.util.Map.class.isAssignableFrom(type) ? "a JSON object"
                : java.util.Collection.class.isAssignableFrom(type) ? "a JSON array" : "a " + type.getSimpleName();
    }

    private static String constants(Class<?> enumType) {
        return Arrays.stream(enumType.getEnumConstants()).map(Object::toString).collect(Collectors.joining(", "));
    }

    private static ResponseEntity<ProblemDetail> fields(List<FieldProblem> problems, ServerWebExchange exchange) {
        ResponseEntity<ProblemDetail> r = problem(HttpStatus.BAD_REQUEST, FieldProblem.describe(problems), exchange);
        r.getBody().setProperty("errors", problems);
        return r;
    }

    private static ResponseEntity<ProblemDetail> problem(HttpStatusCode status, String detail, ServerWebExchange exchange) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(status, detail);
        p.setInstance(java.net.URI.create(exchange.getRequest().getPath().value()));
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(p);
    }
}
