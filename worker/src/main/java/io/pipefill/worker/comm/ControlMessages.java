package io.pipefill.worker.comm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Control messages as records: what ranks tell each other that is not a tensor (the run's epoch, the chunking
 * decision, NCCL's unique id) travels as JSON bytes on the transport's message path, typed at both ends,
 * instead of being packed into floats. {@link Transport#send} and {@link Transport#receive} are the API.
 */
final class ControlMessages {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ControlMessages() {
    }

    static byte[] encode(Object message) {
        try {
            return JSON.writeValueAsBytes(message);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode the control message " + message + ": " + e.getOriginalMessage(), e);
        }
    }

    static <T> T decode(byte[] bytes, Class<T> type, int from) {
        try {
            return JSON.readValue(bytes, type);
        } catch (java.io.IOException e) {
            throw new TransportException("rank " + from + " sent a control message that is not a " + type.getSimpleName()
                    + ": " + e.getMessage());
        }
    }
}
