package io.pipefill.worker.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * NVRTC's command line for our kernels. Plain Java (no CUDA class) so that it is unit-tested on machines
 * without a GPU. We compile straight to a cubin for the exact device ("sm_XY", not "compute_XY"): no PTX JIT
 * at load time, and the cubin can be cached on disk by {@link KernelSources#cacheKey}.
 */
final class NvrtcOptions {
    private NvrtcOptions() {
    }

    /**
     * "sm_90" for compute capability 9.0: what every kernel source is compiled for. Sources that use one
     * architecture's own instructions (wgmma) are compiled for {@link #archSpecific} instead.
     */
    public static String arch(int major, int minor) {
        if (major < 8 || major > 20 || minor < 0 || minor > 9) {
            // BF16 arithmetic (__nv_bfloat16 intrinsics in FP32 math) needs sm_80 or newer
            throw new IllegalArgumentException("compute capability " + major + "." + minor
                    + " is not supported: the CUDA backend needs sm_80 or newer (BF16)");
        }
        return "sm_" + major + minor;
    }

    /**
     * The architecture-specific variant of {@code arch} ("sm_90" -> "sm_90a"), whose cubins may use instructions
     * that later architectures lack (Hopper's wgmma), and which therefore run on exactly that architecture.
     */
    static String archSpecific(String arch) {
        if (!arch.matches("sm_\\d{2,3}")) {
            throw new IllegalArgumentException("'" + arch + "' is not a real architecture such as sm_90");
        }
        return arch + "a";
    }

    /**
     * Options for {@code arch} (a real architecture, "sm_90", or its specific variant, "sm_90a"). {@code includeDir}
     * is the CUDA toolkit's include directory when one exists: NVRTC 13 ships cuda_bf16.h as a built-in header, so
     * it is only a fallback and may be null.
     */
    public static List<String> options(String arch, Path includeDir) {
        if (!arch.matches("sm_\\d{2,3}a?")) {
            throw new IllegalArgumentException("'" + arch + "' is not a real architecture such as sm_90 or sm_90a");
        }
        List<String> o = new ArrayList<>();
        o.add("--gpu-architecture=" + arch);
        o.add("--std=c++17");
        // every function is device code: no __device__ needed on helpers, no host compilation
        o.add("--device-as-default-execution-space");
        // line info costs nothing at run time and makes compute-sanitizer / Nsight reports readable
        o.add("--generate-line-info");
        if (includeDir != null) {
            o.add("--include-path=" + includeDir);
        }
        return List.copyOf(o);
    }

    /** The toolkit's include directory if this machine has one (CUDA_HOME, then /usr/local/cuda), else null. */
    static Path defaultIncludeDir() {
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home != null && Files.isRegularFile(Path.of(home, "include", "cuda_bf16.h"))) {
                return Path.of(home, "include");
            }
        }
        return null;
    }

    /** Identifies the compiler in cubin cache keys, so that an NVRTC upgrade never reuses old binaries. */
    static String compilerId(int major, int minor) {
        return "nvrtc-" + major + "." + minor;
    }
}
