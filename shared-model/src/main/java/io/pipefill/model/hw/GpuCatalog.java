package io.pipefill.model.hw;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The GPUs the planner knows, with public datasheet peaks (dense, without sparsity; SXM parts) and default
 * efficiency factors. The factors are starting points from published kernel benchmarks, not measurements of
 * a particular cluster: calibrate them (see {@code io.pipefill.model.plan.Calibration}).
 */
public final class GpuCatalog {
    private static final double GB = 1e9;
    private static final double TB = 1e12;
    private static final double TFLOPS = 1e12;

    private static final Map<String, GpuSpec> GPUS = new LinkedHashMap<>();

    static {
        // H20: few FLOPs for its bandwidth, so GEMMs and flash attention run close to the (low) peak.
        Efficiency h20 = new Efficiency(0.80, 0.65, 0.80, 0.80, 0.02);
        add(new GpuSpec("h20", "NVIDIA H20 96 GB HBM3", 96 * (long) GB, 4.0 * TB, 148 * TFLOPS, 296 * TFLOPS,
                900 * GB, h20));
        add(new GpuSpec("h20-141g", "NVIDIA H20 141 GB HBM3e", 141 * (long) GB, 4.8 * TB, 148 * TFLOPS,
                296 * TFLOPS, 900 * GB, h20));
        // H100/H200: large BF16 GEMMs reach ≈ 70% of peak; cuDNN/FA3 causal attention ≈ 530–610 of 989 TFLOP/s.
        Efficiency hopper = new Efficiency(0.70, 0.55, 0.80, 0.80, 0.02);
        add(new GpuSpec("h100", "NVIDIA H100 SXM 80 GB", 80 * (long) GB, 3.35 * TB, 989 * TFLOPS, 1979 * TFLOPS,
                900 * GB, hopper));
        add(new GpuSpec("h200", "NVIDIA H200 141 GB", 141 * (long) GB, 4.8 * TB, 989 * TFLOPS, 1979 * TFLOPS,
                900 * GB, hopper));
        // A100: no FP8 tensor cores; FA2 reaches ≈ 70% of peak on A100, cuBLAS ≈ 75–80%.
        add(new GpuSpec("a100", "NVIDIA A100 SXM 80 GB", 80 * (long) GB, 2.0 * TB, 312 * TFLOPS, 0, 600 * GB,
                new Efficiency(0.75, 0.60, 0.80, 0.80, 0.02)));
        // B200: public datasheet (NVIDIA DGX B200 / HGX B200): 180 GB HBM3e usable in HGX (192 GB physical), 8 TB/s,
        // 2.25 PFLOP/s dense BF16, 4.5 PFLOP/s dense FP8, NVLink 5 at 1.8 TB/s per GPU. Young software stack:
        // more conservative factors.
        add(new GpuSpec("b200", "NVIDIA B200 180 GB HBM3e", 180 * (long) GB, 8.0 * TB, 2250 * TFLOPS, 4500 * TFLOPS,
                1800 * GB, new Efficiency(0.65, 0.50, 0.80, 0.80, 0.02)));
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
