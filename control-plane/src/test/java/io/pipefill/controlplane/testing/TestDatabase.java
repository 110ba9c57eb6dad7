package io.pipefill.controlplane.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.MapPropertySource;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * Chooses the database of every test context: where a Docker engine answers, a PostgreSQL container
 * (one per test JVM, a new database per context, so each context starts from empty like the embedded
 * one); elsewhere, the embedded PostgreSQL of the application itself. {@code PIPEFILL_TEST_DB=embedded}
 * forces the embedded one. Registered in META-INF/spring.factories, so every context of the test suite,
 * Spring test or plain SpringApplication, goes through it.
 */
public final class TestDatabase implements ApplicationContextInitializer<ConfigurableApplicationContext> {
    private static PostgreSQLContainer container;
    private static Boolean docker;

    @Override
    public void initialize(ConfigurableApplicationContext context) {
        if (context.getEnvironment().containsProperty("pipefill.db.url")
                && !context.getEnvironment().getProperty("pipefill.db.url", "").isBlank()) {
            return;
        }
        PostgreSQLContainer pg = container();
        if (pg == null) {
            return;
        }
        String db = "t_" + UUID.randomUUID().toString().replace("-", "");
        try (Connection c = DriverManager.getConnection(pg.getJdbcUrl(), pg.getUsername(), pg.getPassword());
             Statement s = c.createStatement()) {
            s.execute("create database " + db);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("could not create a test database in the PostgreSQL container", e);
        }
        String url = pg.getJdbcUrl().replaceFirst("/[^/?]+(\\?|$)", "/" + db + "$1");
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("testcontainers-db",
                Map.of("pipefill.db.url", url, "pipefill.db.username", pg.getUsername(), "pipefill.db.password", pg.getPassword())));
    }

    private static synchronized PostgreSQLContainer container() {
        if ("embedded".equals(System.getenv("PIPEFILL_TEST_DB"))) {
            return null;
        }
        if (docker == null) {
            docker = dockerAnswers();
        }
        if (!docker) {
            return null;
        }
        if (container == null) {
            container = new PostgreSQLContainer("postgres:17-alpine");
            container.start();
        }
        return container;
    }

    private static boolean dockerAnswers() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }
}
