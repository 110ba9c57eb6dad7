package io.pipefill.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model directory's config.json is read only as a bounded regular file (finding 10): a FIFO used to block the
 * reader for good and /dev/zero to fill the heap; a malformed file's error quotes none of its contents.
 */
class ModelFilesTest {
    @TempDir
    Path dir;

    @Test
    void aDeviceOrFifoIsRefusedWithoutBeingRead() throws Exception {
        Path fifo = dir.resolve("config.json");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "mkfifo");
        ModelConfigException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ModelConfigException.class, () -> ModelDirectory.open(dir)));
        assertTrue(e.getMessage().contains("config.json: not a regular file (a FIFO, device or socket)"), e.getMessage());
        ModelConfigException zero = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ModelConfigException.class, () -> ModelConfigJson.read(Path.of("/dev/zero"))));
        assertTrue(zero.getMessage().startsWith("/dev/zero: not a regular file"), zero.getMessage());
    }

    @Test
    void aFileOverTheLimitIsRefusedBeforeItIsRead() throws Exception {
        Path huge = dir.resolve("config.json");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(4L << 30); // sparse
        }
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.read(huge));
        assertTrue(e.getMessage().contains("4294967296 bytes, more than the 1048576 allowed"), e.getMessage());
        Path small = dir.resolve("small.txt");
        Files.writeString(small, "0123456789");
        assertEquals("0123456789", ModelFiles.readUtf8(small, 10));
        assertThrows(ModelFiles.UnfitFileException.class, () -> ModelFiles.readUtf8(small, 9));
        assertThrows(ModelFiles.MissingFileException.class, () -> ModelFiles.readUtf8(dir.resolve("none"), 9));
    }

    @Test
    void aMalformedConfigIsNamedWithoutItsContents() throws Exception {
        Path secret = dir.resolve("config.json");
        Files.writeString(secret, "{\n  \"a\": SECRET-TOKEN\n}");
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelConfigJson.read(secret));
        assertEquals(secret + ": malformed JSON at line 2, column 14", e.getMessage());
    }
}
