package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.controlplane.PipefillProperties;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded PostgreSQL asks every login for the password kept in {@code <data-dir>/db-password} (mode
 * 600): a local user who cannot read that file cannot log in over loopback TCP (where {@code pg_read_file}
 * would otherwise hand them the admin token) nor over the Unix socket. A data directory from an earlier
 * version, which trusted every local login, is converted on its next start and keeps its data.
 */
class DatabaseAuthenticationTest {
    @TempDir
    Path dataDir;

    private DatabaseConfig.EmbeddedServer start() {
        return new DatabaseConfig().embeddedServer(new PipefillProperties(dataDir, null, null, null, null, null, 0, null, null));
    }

    private static Connection login(int port, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        if (password != null) {
            p.setProperty("password", password);
        }
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p);
    }

    private void assertOnlyThePasswordLogsIn(int port) throws Exception {
        assertThatThrownBy(() -> login(port, null).close()).as("a login without a password")
                .isInstanceOf(SQLException.class).hasMessageContaining("password");
        assertThatThrownBy(() -> login(port, "postgres").close()).as("a login with a wrong password")
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("password authentication failed for user \"postgres\"");
        String password = Files.readString(dataDir.resolve("db-password")).trim();
        assertThat(Files.getPosixFilePermissions(dataDir.resolve("db-password")))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        try (Connection c = login(port, password); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("select count(*) from pg_hba_file_rules where auth_method <> 'scram-sha-256'")) {
            r.next();
            assertThat(r.getInt(1)).as("pg_hba rules other than scram-sha-256").isZero();
        }
    }

    @Test
    void aNewDataDirectoryRefusesLoginsWithoutThePassword() throws Exception {
        try (DatabaseConfig.EmbeddedServer server = start()) {
            assertOnlyThePasswordLogsIn(server.port());
        }
        // and again after a restart, on the same directory and password
        try (DatabaseConfig.EmbeddedServer server = start()) {
            assertOnlyThePasswordLogsIn(server.port());
        }
    }

    @Test
    void aDataDirectoryOfAnEarlierVersionIsConvertedAndKeepsItsData() throws Exception {
        // what earlier versions left: the library's defaults (every local login trusted, no password on the role)
        try (EmbeddedPostgres legacy = EmbeddedPostgres.builder().setDataDirectory(dataDir.resolve("postgres"))
                .setCleanDataDirectory(false).start();
             Connection c = legacy.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("create table kept (v text)");
            s.execute("insert into kept values ('from before')");
        }
        try (DatabaseConfig.EmbeddedServer server = start()) {
            assertOnlyThePasswordLogsIn(server.port());
            String password = Files.readString(dataDir.resolve("db-password")).trim();
            try (Connection c = login(server.port(), password); Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("select v from kept")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getString(1)).isEqualTo("from before");
            }
        }
    }

    @Test
    void aDeletedPasswordFileIsReplacedAndSetOnTheServer() throws Exception {
        try (DatabaseConfig.EmbeddedServer ignored = start()) {
            // first start
        }
        String first = Files.readString(dataDir.resolve("db-password")).trim();
        Files.delete(dataDir.resolve("db-password"));
        try (DatabaseConfig.EmbeddedServer server = start()) {
            assertThat(Files.readString(dataDir.resolve("db-password")).trim()).isNotEqualTo(first);
            assertOnlyThePasswordLogsIn(server.port());
            assertThatThrownBy(() -> login(server.port(), first).close()).isInstanceOf(SQLException.class);
        }
    }
}
