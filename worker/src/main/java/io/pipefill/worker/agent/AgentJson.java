package io.pipefill.worker.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.stream.Collectors;

/** The protocol's JSON: the agent records by component name; unknown fields are ignored (a newer peer may add some). */
final class AgentJson {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);

    private AgentJson() {
    }

    /** Reads a request body, or a 400 naming the field that did not parse. */
    static <T> T read(byte[] body, Class<T> type) {
        if (body.length == 0) {
            throw AgentException.badRequest("the request needs a JSON " + type.getSimpleName() + " body");
        }
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) {
                throw AgentException.badRequest("the body is null; expected a JSON " + type.getSimpleName());
            }
            return value;
        } catch (JsonMappingException e) {
            String field = e.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining("."));
            throw AgentException.badRequest((field.isEmpty() ? "" : "field " + field + ": ") + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw AgentException.badRequest("the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw AgentException.badRequest("could not read the body: " + e.getMessage());
        }
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not serialise " + value.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
