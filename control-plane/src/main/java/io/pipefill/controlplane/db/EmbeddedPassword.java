package io.pipefill.controlplane.db;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * The password of the embedded PostgreSQL's {@code postgres} role: generated on the first start into a file
 * of mode 600 in the data directory ({@code db-password}), read from there on every later start. Only the
 * control plane's own OS user can read it, so only that user can log in to the database, whatever port it
 * listens on.
 *
 * @param value   the password (hex: no quoting issues in SQL or in initdb's pwfile)
 * @param file    where it is kept
 * @param created whether this start generated it (so the server may not know it yet)
 */
record EmbeddedPassword(String value, Path file, boolean created) {
    static final String FILE = "db-password";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    @Override
    public String toString() {
        return "EmbeddedPassword[" + file + "]"; // never the value
    }

    static EmbeddedPassword loadOrCreate(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        try {
            if (Files.exists(file)) {
                String v = Files.readString(file, StandardCharsets.UTF_8).trim();
                if (v.isEmpty()) {
                    throw new IllegalStateException(file + " is empty: delete it, and the next start generates a new "
                            + "database password and sets it on the embedded server");
                }
                tighten(file);
                return new EmbeddedPassword(v, file, false);
            }
            byte[] b = new byte[24];
            new SecureRandom().nextBytes(b);
            String v = HexFormat.of().formatHex(b);
            Files.createDirectories(dataDir);
            try {
                // mode 600 from creation on: no window in which another user could read it
                Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } catch (UnsupportedOperationException e) {
                Files.createFile(file);
            } catch (FileAlreadyExistsException e) {
                throw new IllegalStateException(file + " appeared while it was being generated: is another control plane "
                        + "starting on " + dataDir + "?", e);
            }
            Files.writeString(file, v + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
            return new EmbeddedPassword(v, file, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the database password file " + file, e);
        }
    }

    /** A file copied or restored with wider permissions is narrowed back to the owner. */
    private static void tighten(Path file) throws IOException {
        try {
            if (!Files.getPosixFilePermissions(file).equals(OWNER_ONLY)) {
                Files.setPosixFilePermissions(file, OWNER_ONLY);
            }
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: nothing to narrow
        }
    }
}
