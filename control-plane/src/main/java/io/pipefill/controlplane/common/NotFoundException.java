package io.pipefill.controlplane.common;

/** A named record does not exist; answered with 404. */
public final class NotFoundException extends RuntimeException {
    public NotFoundException(String what, Object id) {
        super(what + " " + id + " not found");
    }
}
