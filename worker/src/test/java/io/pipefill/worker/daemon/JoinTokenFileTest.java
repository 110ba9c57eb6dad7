package io.pipefill.worker.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pipefill worker --join-token-file}: the token as a mounted Secret gives it, and clear refusals otherwise. */
class JoinTokenFileTest {
    @TempDir
    Path dir;

    @Test
    void readsTheTrimmedTokenOfAMountedFile() throws Exception {
        Path f = Files.writeString(dir.resolve("join-token"), "  s3cret-token\n");
        assertEquals("s3cret-token", WorkerCommand.readTokenFile(f));
    }

    @Test
    void refusesWhatIsNotOneTokenWithoutEchoingIt() throws Exception {
        var missing = assertThrows(IllegalArgumentException.class, () -> WorkerCommand.readTokenFile(dir.resolve("none")));
        assertTrue(missing.getMessage().contains("is not a readable regular file"), missing.getMessage());
        var directory = assertThrows(IllegalArgumentException.class, () -> WorkerCommand.readTokenFile(dir));
        assertTrue(directory.getMessage().contains("is not a readable regular file"), directory.getMessage());
        Path empty = Files.writeString(dir.resolve("empty"), " \n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WorkerCommand.readTokenFile(empty)).getMessage()
                .endsWith("is empty"));
        Path big = Files.writeString(dir.resolve("big"), "SECRET".repeat(1000));
        var tooBig = assertThrows(IllegalArgumentException.class, () -> WorkerCommand.readTokenFile(big));
        assertTrue(tooBig.getMessage().contains("6000 bytes"), tooBig.getMessage());
        assertFalse(tooBig.getMessage().contains("SECRET"), "the content is never echoed");
    }
}
