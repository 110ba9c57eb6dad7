package io.pipefill.worker.comm;

/** A failed, timed-out or malformed transfer; the message names the peer rank and the channel. */
public class TransportException extends RuntimeException {
    public TransportException(String message) {
        super(message);
    }

    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
