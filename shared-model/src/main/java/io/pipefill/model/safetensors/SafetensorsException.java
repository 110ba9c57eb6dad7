package io.pipefill.model.safetensors;

/** A safetensors file that cannot be trusted: truncated, malformed, or not what the model needs. */
public class SafetensorsException extends RuntimeException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
