package io.pipefill.controlplane.common;

import java.util.List;
import java.util.Map;
import org.postgresql.util.PGobject;
import org.springframework.stereotype.Component;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/** JSON columns: values to jsonb parameters and back, with the application's mapper. */
@Component
public final class Json {
    private final JsonMapper mapper;

    public Json(JsonMapper mapper) {
        this.mapper = mapper;
    }

    /** A jsonb parameter for JDBC; null stays SQL NULL. */
    public PGobject jsonb(Object value) {
        if (value == null) {
            return null;
        }
        try {
            PGobject o = new PGobject();
            o.setType("jsonb");
            o.setValue(mapper.writeValueAsString(value));
            return o;
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    public <T> T read(String json, TypeReference<T> type) {
        return json == null ? null : mapper.readValue(json, type);
    }

    public Map<String, String> readLabels(String json) {
        return json == null ? Map.of() : mapper.readValue(json, new TypeReference<Map<String, String>>() { });
    }

    public List<Integer> readInts(String json) {
        return json == null ? null : mapper.readValue(json, new TypeReference<List<Integer>>() { });
    }
}
