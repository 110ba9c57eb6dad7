package io.pipefill.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Reads the small files of a model directory (config.json) safely: a regular file only, since opening a FIFO
 * blocks until a writer comes and a device such as /dev/zero never ends, and never more than a given size, so a
 * huge file fails at once instead of filling the heap. Errors carry no file contents.
 */
public final class ModelFiles {
    private ModelFiles() {
    }

    /** The file is missing (or a symbolic link to nothing). */
    public static final class MissingFileException extends IOException {
        MissingFileException(Path file) {
            super(file + ": not found");
        }
    }

    /** The file exists but is not one to read: not a regular file, or too large. */
    public static final class UnfitFileException extends IOException {
        UnfitFileException(String message) {
            super(message);
        }
    }

    /**
     * The size of a regular file (symbolic links followed) of at most {@code maxBytes}; throws
     * {@link MissingFileException} or {@link UnfitFileException} otherwise.
     */
    public static long checkRegular(Path file, long maxBytes) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new MissingFileException(file);
        }
        if (!a.isRegularFile()) {
            throw new UnfitFileException("not a regular file" + (a.isDirectory() ? " (a directory)" : " (a FIFO, device or socket)"));
        }
        if (a.size() > maxBytes) {
            throw new UnfitFileException(a.size() + " bytes, more than the " + maxBytes + " allowed");
        }
        return a.size();
    }

    /** The text of a regular file of at most {@code maxBytes} (checked before reading, and while reading). */
    public static String readUtf8(Path file, long maxBytes) throws IOException {
        checkRegular(file, maxBytes);
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            // the file may have been swapped or grown since the check: never read past the limit
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
        }
        if (bytes.length > maxBytes) {
            throw new UnfitFileException("more than the " + maxBytes + " bytes allowed");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
