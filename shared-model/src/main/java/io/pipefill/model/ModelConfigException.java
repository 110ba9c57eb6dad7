package io.pipefill.model;

/** A config.json that is missing, malformed, or describes something pipefill cannot run. */
public class ModelConfigException extends RuntimeException {
    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
