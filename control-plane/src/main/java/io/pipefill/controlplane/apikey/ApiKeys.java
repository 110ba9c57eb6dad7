package io.pipefill.controlplane.apikey;

import io.pipefill.controlplane.common.Sha256;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.model.RandomTokens;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * API keys for the OpenAI-compatible routes, in PostgreSQL: {@code pfk_} and 256 random bits, stored as their
 * SHA-256 only (a leaked database lets no one call the API), revoked by setting {@code revoked_at}. Blocking
 * (database): call through {@code Blocking}. Never log a key.
 */
@Component
public class ApiKeys {
    private static final String PREFIX = "pfk_";
    /** A presented bearer is looked up only when it has this shape (no database trip for every stray token). */
    private static final Pattern KEY = Pattern.compile("pfk_[A-Za-z0-9_-]{32,128}");
    private static final int SHOWN = 12;

    private final JdbcClient jdbc;

    public ApiKeys(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public CreatedApiKey create(String name) {
        String key = PREFIX + RandomTokens.next();
        UUID id = UUID.randomUUID();
        jdbc.sql("insert into api_keys (id, name, key_hash, key_prefix) values (:id, :name, :hash, :prefix)")
                .param("id", id).param("name", name.trim()).param("hash", Sha256.of(key))
                .param("prefix", key.substring(0, SHOWN)).update();
        return new CreatedApiKey(get(id), key);
    }

    public List<ApiKey> list() {
        return jdbc.sql("select id, name, key_prefix, created_at, revoked_at from api_keys order by created_at, id")
                .query(ApiKeys::row).list();
    }

    public ApiKey get(UUID id) {
        return jdbc.sql("select id, name, key_prefix, created_at, revoked_at from api_keys where id = :id")
                .param("id", id).query(ApiKeys::row).optional().orElseThrow(() -> new NotFoundException("API key", id));
    }

    /** Revokes a key (again: no change); it authenticates no request from then on. */
    public ApiKey revoke(UUID id) {
        jdbc.sql("update api_keys set revoked_at = :now where id = :id and revoked_at is null")
                .param("now", Timestamp.from(Instant.now())).param("id", id).update();
        return get(id);
    }

    /** Whether a presented bearer has the shape of an API key (the only ones looked up). */
    public static boolean looksLikeKey(String presented) {
        return presented != null && KEY.matcher(presented).matches();
    }

    /** The key's name when it is a live (not revoked) key, else null. */
    public String nameOf(String presented) {
        return jdbc.sql("select name from api_keys where key_hash = :hash and revoked_at is null")
                .param("hash", Sha256.of(presented)).query(String.class).optional().orElse(null);
    }

    private static ApiKey row(ResultSet rs, int n) throws SQLException {
        Timestamp revoked = rs.getTimestamp("revoked_at");
        return new ApiKey(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("key_prefix"),
                rs.getTimestamp("created_at").toInstant(), revoked == null ? null : revoked.toInstant());
    }

}
