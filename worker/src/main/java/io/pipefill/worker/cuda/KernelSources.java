package io.pipefill.worker.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The CUDA C sources of the small kernels (embedding gather, RMSNorm, per-head q/k norm, RoPE, SwiGLU,
 * residual add, bias add), the chunk-against-prefix attention (tensor-core flash kernels, a Hopper-only wgmma
 * kernel, and a CUDA-core fallback) and the --random-weights fill, shipped as resources. NVRTC compiles them at start-up straight to a cubin for the
 * device's architecture; {@link #cacheKey} names the cached cubin by content, so a changed source, another
 * architecture or another compiler never reuses a stale binary.
 */
final class KernelSources {
    private static final String DIR = "/io/pipefill/worker/cuda/";
    private static final String COMMON = "common.cuh";

    /** Source file to the kernels (extern "C" entry points) it defines. */
    public static final Map<String, List<String>> KERNELS = Map.of(
            "embedding.cu", List.of("embedding_gather"),
            "rms_norm.cu", List.of("rms_norm", "head_rms_norm"),
            "rope.cu", List.of("rope"),
            "elementwise.cu", List.of("swiglu", "residual_add", "add_bias"),
            "attention.cu", List.of("attention_prefill", "kv_append"),
            "flash_attention.cu", LaunchGeometry.flashKernels(),
            "random_fill.cu", List.of("fill_uniform_bf16"));

    /**
     * Sources for one architecture only, compiled for its specific variant ({@link NvrtcOptions#archSpecific}) when
     * a stage asks for them, not at start-up: source file to the architecture it needs and its kernels.
     */
    public static final Map<String, ArchKernels> ARCH_SPECIFIC = Map.of(
            LaunchGeometry.WGMMA_SOURCE, new ArchKernels("sm_90", LaunchGeometry.wgmmaKernels()));

    /** Kernels of a source that only {@code arch} (e.g. "sm_90", compiled as "sm_90a") can run. */
    public record ArchKernels(String arch, List<String> kernels) {
    }

    private KernelSources() {
    }

    /** A source with the shared header inlined, ready for NVRTC (which then needs no include path of ours). */
    public static String load(String file) {
        if (!KERNELS.containsKey(file) && !ARCH_SPECIFIC.containsKey(file)) {
            throw new IllegalArgumentException("unknown kernel source '" + file + "'; known: " + KERNELS.keySet() + " and "
                    + ARCH_SPECIFIC.keySet());
        }
        String common = read(COMMON).replace("#pragma once", "");
        return read(file).replace("#include \"common.cuh\"", common);
    }

    /** The raw resource text, as nvcc sees it next to common.cuh. */
    public static String read(String file) {
        try (InputStream in = KernelSources.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + DIR + file + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Content hash naming the cubin of {@code file} compiled for {@code arch} (e.g. "sm_90") by {@code compiler}. */
    static String cacheKey(String file, String arch, String compiler) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(load(file).getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(arch.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(compiler.getBytes(StandardCharsets.UTF_8));
            return file.replace(".cu", "") + "-" + arch + "-" + HexFormat.of().formatHex(sha.digest()).substring(0, 16)
                    + ".cubin";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
