package io.pipefill.cli.local;

import io.pipefill.model.RandomTokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The admin and join tokens of {@code pipefill up}, generated before the control plane starts into the files
 * it reads them from ({@code <data-dir>/admin-token}, {@code join-token}, mode 600). So the control plane finds
 * them and never prints a token: stdout of {@code pipefill up} often ends up in a container's or a service
 * manager's logs, which others read. What is printed is where the token is.
 */
final class LocalTokenFiles {
    /** The file name under the data directory and the environment variable that overrides it, per token. */
    private static final Map<String, String> TOKENS = Map.of("admin-token", "PIPEFILL_ADMIN_TOKEN",
            "join-token", "PIPEFILL_JOIN_TOKEN");

    private LocalTokenFiles() {
    }

    /** The data directory the control plane will use: the option, else PIPEFILL_DATA_DIR, else its default. */
    static Path dataDir(Path option, Map<String, String> env) {
        if (option != null) {
            return option.toAbsolutePath();
        }
        String fromEnv = env.get("PIPEFILL_DATA_DIR");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Path.of(fromEnv).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".local", "share", "pipefill");
    }

    /**
     * Generates each token whose file is missing and that no environment variable sets; returns the files
     * generated now (empty on later starts).
     */
    static List<Path> generateMissing(Path dataDir, Map<String, String> env) {
        List<Path> generated = new ArrayList<>();
        for (Map.Entry<String, String> t : TOKENS.entrySet()) {
            String configured = env.get(t.getValue());
            Path file = dataDir.resolve(t.getKey());
            if ((configured != null && !configured.isBlank()) || Files.exists(file)) {
                continue;
            }
            write(file);
            generated.add(file);
        }
        generated.sort(null);
        return generated;
    }

    private static void write(Path file) {
        String token = RandomTokens.next();
        try {
            Files.createDirectories(file.getParent());
            try {
                // mode 600 from creation on: no window in which others could read it
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(file);
            }
            Files.writeString(file, token + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
        } catch (FileAlreadyExistsException e) {
            // another start made it meanwhile: the control plane reads that one
        } catch (IOException e) {
            throw new UncheckedIOException("could not create the token file " + file + ": " + e.getMessage(), e);
        }
    }
}
