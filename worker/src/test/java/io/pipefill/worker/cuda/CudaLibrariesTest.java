package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaLibrariesTest {
    @Test
    void namesEveryMissingLibraryAndTheSearchedDirectories(@TempDir Path dir) throws Exception {
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        Files.writeString(a.resolve("libcudart.so.13"), "");
        Files.writeString(b.resolve("libcublas.so.13"), "");
        CudaLibraries.Probe probe = CudaLibraries.probe(List.of(a, b));
        assertEquals(a.resolve("libcudart.so.13"), probe.found().get("libcudart.so.13"));
        assertEquals(b.resolve("libcublas.so.13"), probe.found().get("libcublas.so.13"));
        assertEquals(5, probe.missing().size());
        String m = assertThrows(IllegalStateException.class, probe::requireAll).getMessage();
        assertTrue(m.contains("libcuda.so.1 (the NVIDIA driver)"), m);
        assertTrue(m.contains("libnccl.so.2 (NCCL 2 (GPU transport))"), m);
        assertTrue(!m.contains("libcudart.so.13"), m);
        assertTrue(m.contains(a + ":" + b), m);
    }

    @Test
    void allPresentPasses(@TempDir Path dir) throws Exception {
        for (String so : CudaLibraries.REQUIRED.keySet()) {
            Files.writeString(dir.resolve(so), "");
        }
        CudaLibraries.probe(List.of(dir)).requireAll();
    }

    @Test
    void ldLibraryPathComesFirst() {
        List<Path> path = CudaLibraries.defaultSearchPath("/x/lib:/y/lib");
        assertEquals(Path.of("/x/lib"), path.get(0));
        assertEquals(Path.of("/y/lib"), path.get(1));
        assertTrue(path.contains(Path.of("/usr/local/cuda/lib64")));
    }
}
