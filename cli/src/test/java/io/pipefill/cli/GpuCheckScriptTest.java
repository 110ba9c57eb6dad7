package io.pipefill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tools/gpu-check/test_check.py, the GPU check's own tests that need no GPU (its report survives a cut-off; its
 * throughput rows carry per-chunk times and the attention that ran), run with python3 on this CLI's real prefill
 * JSON: the check reads the fields this CLI writes, so the two are tested together.
 */
class GpuCheckScriptTest {
    private static final Path SCRIPT = Path.of("..", "tools", "gpu-check", "test_check.py");

    @TempDir
    Path dir;

    @Test
    void theGpuCheckTestsPassOnThisClisPrefillJson() throws Exception {
        Assumptions.assumeTrue(onPath("python3"), "python3 is not on the PATH: the GPU check's tests need it");
        Path model = dir.resolve("tiny-llama");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 0).write(model);
        CliRun prefill = CliRun.of("prefill", "--model", model.toString(), "--random-tokens", "100", "--chunk", "30",
                "--threads", "1", "--json", "--quiet");
        assertEquals(0, prefill.code(), prefill.err());
        Path json = Files.writeString(dir.resolve("prefill.json"), prefill.out());

        Path log = dir.resolve("test_check.log");
        ProcessBuilder pb = new ProcessBuilder("python3", SCRIPT.toAbsolutePath().normalize().toString(), "-v")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PIPEFILL_TEST_PREFILL_JSON", json.toString());
        pb.environment().remove("OUT");
        Process p = pb.start();
        boolean done = p.waitFor(90, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertTrue(done, "test_check.py did not end within 90 s:\n" + output);
        assertEquals(0, p.exitValue(), output);
        // every case ran: none skipped (the prefill JSON was handed over)
        List<String> lines = output.strip().lines().toList();
        assertEquals("OK", lines.get(lines.size() - 1), output);
        assertTrue(output.contains("Ran 9 tests"), output);
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
