package io.pipefill.controlplane.security;

import io.pipefill.controlplane.common.Sha256;
import io.pipefill.model.RandomTokens;
import io.pipefill.controlplane.PipefillProperties;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Set;
import org.springframework.stereotype.Component;

/**
 * The two configured bearer tokens: {@code admin} (operators, every {@code /api/v1} route but the agent ones) and
 * {@code join} (workers: it admits a registration, {@code POST /api/v1/agent/workers}, and nothing else; each
 * registered worker then gets its own credential, see {@code cluster.WorkerCredentials}).
 *
 * <p>A token comes from its property ({@code pipefill.admin-token}, {@code pipefill.join-token}); when that is
 * blank it is read from {@code <data-dir>/admin-token} / {@code join-token}, and on the very first start it is
 * generated there (mode 600) and the file named on stdout; the token itself is never printed or logged.
 */
@Component
public class Tokens {
    static final String ADMIN_FILE = "admin-token";
    static final String JOIN_FILE = "join-token";

    private final String admin;
    private final String join;
    private final byte[] adminDigest;
    private final byte[] joinDigest;

    public Tokens(PipefillProperties props) {
        this.admin = resolve(props.adminToken(), props.dataDir().resolve(ADMIN_FILE), "admin");
        this.join = resolve(props.joinToken(), props.dataDir().resolve(JOIN_FILE), "join");
        if (admin.equals(join)) {
            // one token for both would make the 403 rules meaningless
            throw new IllegalStateException("pipefill.admin-token and pipefill.join-token must differ");
        }
        this.adminDigest = Sha256.of(admin);
        this.joinDigest = Sha256.of(join);
    }

    public String admin() {
        return admin;
    }

    public String join() {
        return join;
    }

    /** The role a presented token grants, compared in constant time; null for an unknown token. */
    public String roleOf(String presented) {
        byte[] d = Sha256.of(presented);
        // both comparisons always run, so timing says nothing about which one matched
        boolean isAdmin = MessageDigest.isEqual(d, adminDigest);
        boolean isJoin = MessageDigest.isEqual(d, joinDigest);
        return isAdmin ? "ADMIN" : isJoin ? "JOIN" : null;
    }

    private static String resolve(String configured, Path file, String what) {
        if (configured != null && !configured.isBlank()) {
            return configured.trim();
        }
        try {
            if (Files.exists(file)) {
                String t = Files.readString(file, StandardCharsets.UTF_8).trim();
                if (t.isEmpty()) {
                    throw new IllegalStateException(file + " is empty: delete it to generate a new " + what + " token");
                }
                return t;
            }
            String t = generate();
            write(file, t);
            // where it is, never what it is: stdout ends up in container logs, the file is readable by its owner only
            System.out.println("pipefill: generated the " + what + " token into " + file + " (mode 600)");
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the " + what + " token file " + file, e);
        }
    }

    static String generate() {
        return RandomTokens.next();
    }

    private static void write(Path file, String token) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Set<PosixFilePermission> owner = PosixFilePermissions.fromString("rw-------");
        try {
            // created with mode 600 from the start: no window in which others could read it
            Files.createFile(file, PosixFilePermissions.asFileAttribute(owner));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file); // not a POSIX file system
        } catch (FileAlreadyExistsException e) {
            throw new IOException(file + " appeared while generating it; start again", e);
        }
        Files.writeString(file, token + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
    }
}
