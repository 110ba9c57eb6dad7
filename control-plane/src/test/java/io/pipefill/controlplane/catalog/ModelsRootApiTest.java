package io.pipefill.controlplane.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/**
 * Model locations are read only under the models root (finding 10; the test profile's root is java.io.tmpdir): a
 * path outside it is refused with the same answer whether or not it exists, a config.json linked out of the root is
 * never read (its contents were echoed in the parser's message), a FIFO (which hung the request) and an oversized
 * file (a config.json → /dev/zero ran the JVM out of memory) fail at once, and no error quotes a file's contents.
 */
class ModelsRootApiTest extends ApiTestSupport {
    static Path models;

    @BeforeAll
    static void generate() throws Exception {
        models = Files.createTempDirectory("pipefill-models-root-");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 1).write(models.resolve("tiny"));
    }

    @AfterAll
    static void removeModels() throws Exception {
        // links are removed, never followed
        try (var paths = Files.walk(models)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A copy of the tiny model whose config.json is replaced by {@code config} (a path to link to, or made by the caller). */
    private static Path modelWithConfig(String name) throws Exception {
        Path dir = Files.createDirectories(models.resolve(name));
        try (var files = Files.list(models.resolve("tiny"))) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals("config.json")) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        return dir;
    }

    private String refusal(String location) {
        return adminPost("/api/v1/models", Map.of("name", unique("m"), "location", location)).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(Map.class).returnResult().getResponseBody().get("detail").toString();
    }

    @Test
    void aLocationOutsideTheRootIsRefusedAlikeWhetherOrNotItExists() throws Exception {
        String existing = refusal("/etc");
        String missing = refusal("/no-such-directory/anywhere");
        assertThat(existing).startsWith("location: ").contains("not a directory under the models root");
        assertThat(existing.replace("/etc", "X")).isEqualTo(missing.replace("/no-such-directory/anywhere", "X"));
        // a link inside the root to a directory outside it is outside too, and so is a way out through ..
        Path link = Files.createSymbolicLink(models.resolve("link-out"), Path.of("/etc"));
        assertThat(refusal(link.toString()).replace(link.toString(), "X")).isEqualTo(missing.replace("/no-such-directory/anywhere", "X"));
        String dotdot = models.resolve("../../etc").toString();
        assertThat(refusal(dotdot)).contains("not a directory under the models root");
        assertThat(refusal("/" + "a".repeat(5000))).contains("location: must be at most 4096 characters");
    }

    @Test
    void aConfigLinkedOutOfTheRootIsNeverRead() throws Exception {
        Path dir = modelWithConfig("passwd-config");
        Files.createSymbolicLink(dir.resolve("config.json"), Path.of("/etc/passwd"));
        String detail = refusal(dir.toString());
        assertThat(detail).contains("config.json leads outside the models root").doesNotContain("root:").doesNotContain("/bin/");
        Path dangling = modelWithConfig("dangling-config");
        Files.createSymbolicLink(dangling.resolve("config.json"), Path.of("/no-such-file"));
        assertThat(refusal(dangling.toString()).replace("dangling-config", "X")).isEqualTo(detail.replace("passwd-config", "X"));
        Path zero = modelWithConfig("zero-config");
        Files.createSymbolicLink(zero.resolve("config.json"), Path.of("/dev/zero"));
        assertThat(refusal(zero.toString())).contains("config.json leads outside the models root");
    }

    @Test
    void aFifoOrAnOversizedConfigFailsAtOnce() throws Exception {
        Path fifo = modelWithConfig("fifo-config");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.resolve("config.json").toString()).inheritIO().start();
        assertThat(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0).as("mkfifo").isTrue();
        long start = System.nanoTime();
        assertThat(refusal(fifo.toString())).contains("config.json: not a regular file");
        Path huge = modelWithConfig("huge-config");
        try (RandomAccessFile f = new RandomAccessFile(huge.resolve("config.json").toFile(), "rw")) {
            f.setLength(3L << 30); // sparse: 3 GB of zeros that take no disk
        }
        assertThat(refusal(huge.toString())).contains("config.json: 3221225472 bytes, more than the 1048576 allowed");
        assertThat((System.nanoTime() - start) / 1e9).as("seconds for both").isLessThan(5.0);
    }

    @Test
    void errorsQuoteNoFileContents() throws Exception {
        Path bad = modelWithConfig("secret-config");
        Files.writeString(bad.resolve("config.json"), "SECRET-0123456789 is not JSON");
        assertThat(refusal(bad.toString())).contains("malformed JSON at line 1, column").doesNotContain("SECRET");
    }

    @Test
    void aModelUnderTheRootRegistersByAbsoluteOrRelativeLocation() throws Exception {
        Path dir = models.resolve("tiny");
        adminPost("/api/v1/models", Map.of("name", unique("abs"), "location", dir.toString())).expectStatus().isCreated()
                .expectBody().jsonPath("$.location").isEqualTo(dir.toString()).jsonPath("$.hasTokenizer").isEqualTo(true);
        Path root = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
        adminPost("/api/v1/models", Map.of("name", unique("rel"), "location", root.relativize(dir).toString()))
                .expectStatus().isCreated().expectBody().jsonPath("$.location").isEqualTo(dir.toString());
        // a link that stays inside the root is fine
        Path inside = Files.createSymbolicLink(models.resolve("link-in"), dir);
        adminPost("/api/v1/models", Map.of("name", unique("link"), "location", inside.toString())).expectStatus().isCreated();
    }
}
