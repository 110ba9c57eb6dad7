package io.pipefill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tools/gpu-check/test_check.py, the GPU check's own tests that need no GPU (its report survives a cut-off), run
 * with python3 as part of the project's tests.
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = Path.of("..", "tools", "gpu-check", "test_check.py");

    @TempDir
    Path dir;

    @Test
    void theGpuCheckTestsPass() throws Exception {
        Assumptions.assumeTrue(onPath("python3"), "python3 is not on the PATH: the GPU check's tests need it");
        Path log = dir.resolve("test_check.log");
        ProcessBuilder pb = new ProcessBuilder("python3", SCRIPT.toAbsolutePath().normalize().toString(), "-v")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("OUT");
        Process p = pb.start();
        boolean done = p.waitFor(90, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertTrue(done, "test_check.py did not end within 90 s:\n" + output);
        assertEquals(0, p.exitValue(), output);
        List<String> lines = output.strip().lines().toList();
        assertEquals("OK", lines.get(lines.size() - 1), output);
        assertTrue(output.contains("Ran 5 tests"), output);
    }

    private static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }
}
