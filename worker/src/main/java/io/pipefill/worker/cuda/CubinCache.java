package io.pipefill.worker.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.Supplier;

/**
 * Compiled kernels on disk, named by {@link KernelSources#cacheKey} (source, architecture and compiler hashed
 * together). Invalidation is by name: a changed source or compiler gives another file, so a stale cubin is
 * never read. Writes go through a temporary file and an atomic rename because several worker processes of one
 * pipeline start at the same time and may compile the same kernel concurrently.
 */
final class CubinCache {
    private final Path dir;

    CubinCache(Path dir) {
        this.dir = dir;
    }

    /** ~/.cache/pipefill/cubin, or $XDG_CACHE_HOME/pipefill/cubin. */
    static CubinCache defaultCache() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path root = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return new CubinCache(root.resolve("pipefill").resolve("cubin"));
    }

    public Path dir() {
        return dir;
    }

    public Path path(String key) {
        if (key.contains("/") || key.contains("\\") || key.startsWith(".")) {
            throw new IllegalArgumentException("cache key '" + key + "' is not a plain file name");
        }
        return dir.resolve(key);
    }

    /** The cached cubin for {@code key}, compiling and storing it first when absent (or empty: a torn write). */
    byte[] getOrCompile(String key, Supplier<byte[]> compile) {
        Path p = path(key);
        try {
            if (Files.isRegularFile(p) && Files.size(p) > 0) {
                return Files.readAllBytes(p);
            }
        } catch (IOException e) {
            // unreadable cache entry: recompile below
        }
        byte[] cubin = compile.get();
        if (cubin == null || cubin.length == 0) {
            throw new IllegalStateException("compiling " + key + " produced no cubin");
        }
        store(p, cubin);
        return cubin;
    }

    private void store(Path p, byte[] cubin) {
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, p.getFileName().toString(), ".tmp");
            try {
                Files.write(tmp, cubin);
                try {
                    Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            // a read-only home must not stop the run: the cubin is in memory, only the cache is lost
            System.err.println("warning: could not cache " + p + ": " + e.getMessage());
        }
    }

    /** Test hook: the directory's contents are only ever ours, so removing them is a full invalidation. */
    public void clear() {
        try (var s = Files.list(dir)) {
            for (Path f : s.toList()) {
                Files.deleteIfExists(f);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // nothing cached
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
