package io.pipefill.controlplane.openai;

import org.springframework.http.HttpStatus;

/** A request the OpenAI routes refuse, answered in OpenAI's error shape with this status, param and code. */
final class OpenAiException extends RuntimeException {
    final HttpStatus status;
    final String type;
    final String param;
    final String code;

    OpenAiException(HttpStatus status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static OpenAiException invalid(String param, String message) {
        return new OpenAiException(HttpStatus.BAD_REQUEST, "invalid_request_error", param, null, message);
    }
}
