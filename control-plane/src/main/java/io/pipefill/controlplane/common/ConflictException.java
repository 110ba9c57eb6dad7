package io.pipefill.controlplane.common;

/** The request clashes with the current state of a record; answered with 409. */
public final class ConflictException extends RuntimeException {
    public ConflictException(String message) {
        super(message);
    }
}
