package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelSourcesTest {
    @Test
    void everyDeclaredKernelIsDefinedAndTheHeaderIsInlined() {
        for (Map.Entry<String, List<String>> e : KernelSources.KERNELS.entrySet()) {
            String src = KernelSources.load(e.getKey());
            assertFalse(src.contains("#include \"common.cuh\""), e.getKey());
            for (String kernel : e.getValue()) {
                // flash_attention.cu stamps its entry points out of one template with a macro
                Matcher flash = Pattern.compile("flash_attention_d(\\d+)_w(\\d+)_m(\\d+)").matcher(kernel);
                String definition = flash.matches() ? "FLASH_ATTENTION(" + flash.group(1) + ", " + flash.group(2) + ", " + flash.group(3) + ")"
                        : "extern \"C\" __global__ void " + kernel + "(";
                assertTrue(src.contains(definition), e.getKey() + " defines " + kernel);
            }
        }
        for (Map.Entry<String, KernelSources.ArchKernels> e : KernelSources.ARCH_SPECIFIC.entrySet()) {
            String src = KernelSources.load(e.getKey());
            assertFalse(src.contains("#include \"common.cuh\""), e.getKey());
            for (String kernel : e.getValue().kernels()) {
                // stamped out of one template by FLASH_ATTENTION_WGMMA(name, ...)
                assertTrue(src.contains("FLASH_ATTENTION_WGMMA(" + kernel + ", "), e.getKey() + " defines " + kernel);
            }
            assertFalse(KernelSources.KERNELS.containsKey(e.getKey()), "compiled for its own architecture only");
        }
        assertThrows(IllegalArgumentException.class, () -> KernelSources.load("nope.cu"));
    }

    @Test
    void cacheKeysFollowContentArchitectureAndCompiler() {
        String a = KernelSources.cacheKey("rope.cu", "sm_90", "nvrtc 13.1");
        assertEquals(a, KernelSources.cacheKey("rope.cu", "sm_90", "nvrtc 13.1"));
        assertNotEquals(a, KernelSources.cacheKey("rope.cu", "sm_80", "nvrtc 13.1"));
        assertNotEquals(a, KernelSources.cacheKey("rope.cu", "sm_90", "nvrtc 13.0"));
        assertNotEquals(a, KernelSources.cacheKey("elementwise.cu", "sm_90", "nvrtc 13.1"));
        assertTrue(a.startsWith("rope-sm_90-") && a.endsWith(".cubin"), a);
    }

    /** Every kernel source compiles for Hopper with nvcc where nvcc is installed (skipped, visibly, elsewhere). */
    @Test
    void kernelsCompileForSm90WithNvcc(@TempDir Path dir) throws Exception {
        Path nvcc = findNvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc not found (PATH, /usr/local/cuda/bin): CUDA kernel compile check skipped");
        Files.writeString(dir.resolve("common.cuh"), KernelSources.read("common.cuh"));
        for (String file : KernelSources.KERNELS.keySet()) {
            Files.writeString(dir.resolve(file), KernelSources.read(file));
            List<String> cmd = new ArrayList<>(List.of(nvcc.toString(), "-cubin", "-arch=sm_90", "-Werror",
                    "all-warnings", "-o", dir.resolve(file + ".cubin").toString(), dir.resolve(file).toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "nvcc timed out on " + file);
            assertEquals(0, p.exitValue(), file + ":\n" + out);
            assertTrue(Files.size(dir.resolve(file + ".cubin")) > 0);
        }
        // wgmma kernels: for the architecture-specific target, and ptxas must neither spill nor serialise the
        // wgmma's (it says so, with -v, when register use forces it to wait after each one)
        for (Map.Entry<String, KernelSources.ArchKernels> e : KernelSources.ARCH_SPECIFIC.entrySet()) {
            String file = e.getKey();
            Files.writeString(dir.resolve(file), KernelSources.read(file));
            String arch = NvrtcOptions.archSpecific(e.getValue().arch());
            List<String> cmd = List.of(nvcc.toString(), "-cubin", "-arch=" + arch, "-Werror", "all-warnings", "-Xptxas", "-v",
                    "-o", dir.resolve(file + ".cubin").toString(), dir.resolve(file).toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "nvcc timed out on " + file);
            assertEquals(0, p.exitValue(), file + ":\n" + out);
            assertFalse(out.contains("serialized"), file + ": wgmma serialised:\n" + out);
            assertFalse(Pattern.compile("[1-9]\\d* bytes spill").matcher(out).find(), file + " spills registers:\n" + out);
            assertTrue(Files.size(dir.resolve(file + ".cubin")) > 0);
        }
    }

    private static Path findNvcc() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "nvcc");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        Path cuda = Path.of("/usr/local/cuda/bin/nvcc");
        return Files.isExecutable(cuda) ? cuda : null;
    }
}
