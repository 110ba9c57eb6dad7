package io.pipefill.controlplane.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pipefill.controlplane.PipefillProperties;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The database: the external PostgreSQL named by {@code pipefill.db.url} ({@code PIPEFILL_DB_URL}), or
 * else an embedded PostgreSQL server whose data directory lives under {@code pipefill.data-dir}, so that
 * records survive restarts with no database to set up.
 */
@Configuration(proxyBeanMethods = false)
public class DatabaseConfig {
    private static final Logger log = LoggerFactory.getLogger(DatabaseConfig.class);

    @Bean(destroyMethod = "close")
    public DataSource dataSource(PipefillProperties props, EmbeddedServer embedded, ControlPlaneLock lock) {
        HikariConfig hc = new HikariConfig();
        if (props.db().external()) {
            hc.setJdbcUrl(props.db().url());
            hc.setUsername(props.db().username());
            hc.setPassword(props.db().password());
            log.info("database: {}", props.db().url());
        } else {
            hc.setJdbcUrl(embedded.jdbcUrl());
            hc.setUsername("postgres");
            hc.setPassword(embedded.password().value());
        }
        hc.setMaximumPoolSize(10);
        // with the database away, a request fails (503) after 5 s instead of Hikari's 30: clients and the worker
        // heartbeats get an answer while the pool keeps trying to reconnect
        hc.setConnectionTimeout(5_000);
        hc.setPoolName("pipefill-db");
        return new HikariDataSource(hc);
    }

    /**
     * Held from before the schema is migrated until after the pool is closed: one control plane per database
     * (see {@link ControlPlaneLock}). Taken before anything else touches the database, so a second control plane
     * stops before it could fail the first one's runs.
     */
    @Bean(destroyMethod = "close")
    public ControlPlaneLock controlPlaneLock(PipefillProperties props, EmbeddedServer embedded,
                                            @Value("${pipefill.db.lock-wait:60s}") Duration wait) {
        if (props.db().external()) {
            return ControlPlaneLock.acquire(props.db().url(), props.db().username(), props.db().password(), wait);
        }
        // the embedded server's data directory is already locked to this process (OrphanedServer); the lock is
        // taken all the same, so the rule does not depend on how the database is reached
        return ControlPlaneLock.acquire(embedded.jdbcUrl(), "postgres", embedded.password().value(), wait);
    }

    @Bean(destroyMethod = "close")
    public EmbeddedServer embeddedServer(PipefillProperties props) {
        if (props.db().external()) {
            return EmbeddedServer.NONE;
        }
        Path dir = props.dataDir().resolve("postgres");
        try {
            Files.createDirectories(dir);
            OrphanedServer.reclaim(dir, Duration.ofSeconds(15));
            EmbeddedPassword password = EmbeddedPassword.loadOrCreate(props.dataDir());
            // the library runs initdb when there is no postgresql.conf (as it decides below)
            boolean initialized = !Files.exists(dir.resolve("postgresql.conf"));
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setDataDirectory(dir)
                    .setCleanDataDirectory(false)
                    // initdb's options go through the "locale" map (appended as --key=value after its own -A trust,
                    // and the last --auth wins): a new directory has the password from its very first start
                    .setLocaleConfig("auth", "scram-sha-256")
                    .setLocaleConfig("pwfile", password.file().toString())
                    // the library's own start-up check logs in too
                    .setConnectConfig("password", password.value())
                    .setDataDirectoryCustomizer(d -> PasswordAuthentication.enforce(d.toPath(), password, initialized))
                    // no shutdown hook of its own: the server stops when the Spring context closes this bean, after
                    // everything that uses the database (runs in flight are recorded first), never before
                    .setRegisterShutdownHook(false);
            if (props.db().embeddedPort() > 0) {
                builder.setPort(props.db().embeddedPort());
            }
            EmbeddedPostgres pg = builder.start();
            log.info("database: embedded PostgreSQL on port {}, data in {}", pg.getPort(), dir);
            return new EmbeddedServer(pg, password);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the embedded PostgreSQL in " + dir
                    + " (set PIPEFILL_DB_URL to use an external server): " + e.getMessage(), e);
        }
    }

    /** The embedded server when one runs, and the password of its {@code postgres} role; closing stops it. */
    public record EmbeddedServer(EmbeddedPostgres pg, EmbeddedPassword password) implements AutoCloseable {
        static final EmbeddedServer NONE = new EmbeddedServer(null, null);

        /** The port it listens on (loopback only). */
        public int port() {
            return pg.getPort();
        }

        String jdbcUrl() {
            return pg.getJdbcUrl("postgres", "postgres");
        }

        @Override
        public void close() throws IOException {
            if (pg != null) {
                pg.close();
            }
        }
    }
}
