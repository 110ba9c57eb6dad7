package io.pipefill.model.hw;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The GPUs the planner knows, with public datasheet peaks (dense, without sparsity; SXM parts) and default
 * efficiency factors. Hopper's factors and every chip's shape tables come from the H200 probes under docs/gpu;
 * they are starting points, not measurements of a particular cluster: calibrate them (see
 * {@code io.pipefill.model.plan.Calibration}).
 */
public final class GpuCatalog {
    private static final double GB = 1e9;
    private static final double TB = 1e12;
    private static final double TFLOPS = 1e12;

    private static final Map<String, GpuSpec> GPUS = new LinkedHashMap<>();

    /**
     * Per stage per chunk: the H200 GEMM probe's host time to enqueue one cached cuBLASLt call is 0.08–0.18 ms; a
     * chunk exposes about one such gap where the stage waits for its input and synchronises before its send.
     */
    static final double CHUNK_OVERHEAD_MS = 0.15;

    static {
        // Hopper (H20, H100, H200): the shares measured on an H200 (KernelShapes: GEMM 0.828 and HBM 0.918 from the
        // cuBLASLt probe; attention 0.62 from cuDNN's causal SDPA at 64K, 598–617 of 989 TFLOP/s in the attention
        // probe), applied to each chip's own datasheet peaks. The H20 has few FLOPs for its bandwidth, so its GEMMs
        // turn compute-bound at smaller chunks than an H200's.
        Efficiency hopper = new Efficiency(0.828, 0.62, 0.918, 0.80, 0.02, CHUNK_OVERHEAD_MS);
        add(new GpuSpec("h20", "NVIDIA H20 96 GB HBM3", 96 * (long) GB, 4.0 * TB, 148 * TFLOPS, 296 * TFLOPS,
                900 * GB, hopper, KernelShapes.measured(78)));
        add(new GpuSpec("h20-141g", "NVIDIA H20 141 GB HBM3e", 141 * (long) GB, 4.8 * TB, 148 * TFLOPS,
                296 * TFLOPS, 900 * GB, hopper, KernelShapes.measured(78)));
        add(new GpuSpec("h100", "NVIDIA H100 SXM 80 GB", 80 * (long) GB, 3.35 * TB, 989 * TFLOPS, 1979 * TFLOPS,
                900 * GB, hopper, KernelShapes.measured(132)));
        add(new GpuSpec("h200", "NVIDIA H200 141 GB", 141 * (long) GB, 4.8 * TB, 989 * TFLOPS, 1979 * TFLOPS,
                900 * GB, hopper, KernelShapes.measured(132)));
        // A100: no FP8 tensor cores; FA2 reaches ≈ 70% of peak on A100, cuBLAS ≈ 75–80% (public benchmarks, not
        // measured here); the shape tables are the H200's.
        add(new GpuSpec("a100", "NVIDIA A100 SXM 80 GB", 80 * (long) GB, 2.0 * TB, 312 * TFLOPS, 0, 600 * GB,
                new Efficiency(0.75, 0.60, 0.80, 0.80, 0.02, CHUNK_OVERHEAD_MS), KernelShapes.measured(108)));
        // B200: public datasheet (NVIDIA DGX B200 / HGX B200): 180 GB HBM3e usable in HGX (192 GB physical), 8 TB/s,
        // 2.25 PFLOP/s dense BF16, 4.5 PFLOP/s dense FP8, NVLink 5 at 1.8 TB/s per GPU, 148 SMs. Young software
        // stack: more conservative factors.
        add(new GpuSpec("b200", "NVIDIA B200 180 GB HBM3e", 180 * (long) GB, 8.0 * TB, 2250 * TFLOPS, 4500 * TFLOPS,
                1800 * GB, new Efficiency(0.65, 0.50, 0.80, 0.80, 0.02, CHUNK_OVERHEAD_MS), KernelShapes.measured(148)));
    }

    private GpuCatalog() {
    }

    private static void add(GpuSpec g) {
        GPUS.put(g.name(), g);
    }

    public static GpuSpec get(String name) {
        GpuSpec g = name == null ? null : GPUS.get(name.trim().toLowerCase(Locale.ROOT));
        if (g == null) {
            throw new IllegalArgumentException("unknown GPU '" + name + "'; known: " + String.join(", ", GPUS.keySet()));
        }
        return g;
    }

    public static Map<String, GpuSpec> all() {
        return Map.copyOf(GPUS);
    }

    public static java.util.List<String> names() {
        return java.util.List.copyOf(GPUS.keySet());
    }
}
