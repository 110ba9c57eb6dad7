package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NvrtcOptionsTest {
    @Test
    void archFollowsTheComputeCapability() {
        assertEquals("sm_90", NvrtcOptions.arch(9, 0));
        assertEquals("sm_80", NvrtcOptions.arch(8, 0));
        assertEquals("sm_89", NvrtcOptions.arch(8, 9));
        assertEquals("sm_100", NvrtcOptions.arch(10, 0));
        assertEquals("sm_120", NvrtcOptions.arch(12, 0));
    }

    @Test
    void preAmpereIsRefusedForBf16() {
        String m = assertThrows(IllegalArgumentException.class, () -> NvrtcOptions.arch(7, 5)).getMessage();
        assertTrue(m.contains("7.5") && m.contains("sm_80"), m);
    }

    @Test
    void optionsCompileToACubinForTheDevice() {
        List<String> o = NvrtcOptions.options("sm_90", null);
        assertEquals("--gpu-architecture=sm_90", o.get(0));
        assertTrue(o.contains("--std=c++17"), o.toString());
        assertTrue(o.stream().noneMatch(s -> s.startsWith("--include-path")), o.toString());
        assertTrue(NvrtcOptions.options("sm_90", Path.of("/usr/local/cuda/include"))
                .contains("--include-path=/usr/local/cuda/include"));
    }

    @Test
    void architectureSpecificVariantsForWgmma() {
        assertEquals("sm_90a", NvrtcOptions.archSpecific("sm_90"));
        assertEquals("--gpu-architecture=sm_90a", NvrtcOptions.options("sm_90a", null).get(0));
        assertThrows(IllegalArgumentException.class, () -> NvrtcOptions.archSpecific("sm_90a"));
        assertThrows(IllegalArgumentException.class, () -> NvrtcOptions.archSpecific("compute_90"));
    }

    @Test
    void virtualArchitecturesAreRefused() {
        // compute_90 would give PTX, which cuModuleLoadData would JIT on every start and the cache could not hold
        assertThrows(IllegalArgumentException.class, () -> NvrtcOptions.options("compute_90", null));
        assertThrows(IllegalArgumentException.class, () -> NvrtcOptions.options("sm_90 --evil", null));
    }

    @Test
    void compilerIdNamesTheNvrtcVersion() {
        assertEquals("nvrtc-13.1", NvrtcOptions.compilerId(13, 1));
    }
}
