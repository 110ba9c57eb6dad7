package io.pipefill.worker.agent;

/** A request the agent refuses, with the HTTP status and a problem title; the message is the detail. */
final class AgentException extends RuntimeException {
    private final int status;
    private final String title;

    AgentException(int status, String title, String detail) {
        super(detail);
        this.status = status;
        this.title = title;
    }

    static AgentException badRequest(String detail) {
        return new AgentException(400, "Bad Request", detail);
    }

    static AgentException conflict(String detail) {
        return new AgentException(409, "Conflict", detail);
    }

    static AgentException notFound(String detail) {
        return new AgentException(404, "Not Found", detail);
    }

    int status() {
        return status;
    }

    String title() {
        return title;
    }
}
