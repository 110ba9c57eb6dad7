package io.pipefill.controlplane.catalog;

import io.pipefill.controlplane.common.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Registered models in PostgreSQL. Blocking: call through {@code Blocking}. */
@Repository
public class ModelRepository {
    private static final String COLUMNS = "id, name, location, architecture, layers, hidden_size, attention_heads, kv_heads, "
            + "vocab_size, max_positions, parameters, size_bytes, (config->>'hasTokenizer')::boolean, registered_at";

    private final JdbcClient jdbc;
    private final Json json;

    public ModelRepository(JdbcClient jdbc, Json json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /** Inserts a model; the caller checks the name is free (the unique index is the last word). */
    public RegisteredModel insert(RegisteredModel m, Map<String, Object> configSummary) {
        jdbc.sql("""
                        insert into models (id, name, location, architecture, layers, hidden_size, attention_heads,
                            kv_heads, vocab_size, max_positions, parameters, size_bytes, config)
                        values (:id, :name, :location, :arch, :layers, :hidden, :heads, :kv, :vocab, :maxpos, :params,
                            :size, :config)""")
                .param("id", m.id()).param("name", m.name()).param("location", m.location())
                .param("arch", m.architecture()).param("layers", m.layers()).param("hidden", m.hiddenSize())
                .param("heads", m.attentionHeads()).param("kv", m.kvHeads()).param("vocab", m.vocabSize())
                .param("maxpos", m.maxPositions()).param("params", m.parameters()).param("size", m.sizeBytes())
                .param("config", json.jsonb(configSummary)).update();
        return byId(m.id()).orElseThrow();
    }

    public Optional<RegisteredModel> byId(UUID id) {
        return jdbc.sql("select " + COLUMNS + " from models where id = :id").param("id", id).query(this::row).optional();
    }

    public Optional<RegisteredModel> byName(String name) {
        return jdbc.sql("select " + COLUMNS + " from models where name = :n").param("n", name).query(this::row).optional();
    }

    /** By UUID when the text is one, else by name. */
    public Optional<RegisteredModel> byIdOrName(String idOrName) {
        UUID id;
        try {
            id = UUID.fromString(idOrName);
        } catch (IllegalArgumentException notAUuid) {
            return byName(idOrName);
        }
        return byId(id);
    }

    public List<RegisteredModel> all() {
        return jdbc.sql("select " + COLUMNS + " from models order by name").query(this::row).list();
    }

    private RegisteredModel row(ResultSet rs, int i) throws SQLException {
        return new RegisteredModel(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getInt(5), rs.getInt(6), rs.getInt(7), rs.getInt(8), rs.getInt(9), rs.getInt(10), rs.getLong(11),
                rs.getLong(12), rs.getBoolean(13), rs.getTimestamp(14).toInstant());
    }
}
