package io.pipefill.model.hw;

/**
 * One accelerator: datasheet peaks (dense, no sparsity), the efficiency factors that turn them into
 * achievable rates at large shapes, and how its kernels slow down at small ones ({@link KernelShapes}).
 * {@code fp8Flops} is 0 where the chip has no FP8 tensor cores (FP8 weights then run as BF16 GEMMs after
 * dequantisation).
 */
public record GpuSpec(String name, String description, long memoryBytes, double hbmBytesPerS, double bf16Flops,
                      double fp8Flops, double nvlinkBytesPerS, Efficiency efficiency, KernelShapes shapes) {

    public GpuSpec {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a GPU needs a name");
        }
        if (memoryBytes <= 0 || !(hbmBytesPerS > 0) || !(bf16Flops > 0) || !(fp8Flops >= 0) || !(nvlinkBytesPerS > 0)) {
            throw new IllegalArgumentException("GPU " + name + ": memory, bandwidths and BF16 peak must be positive and the"
                    + " FP8 peak ≥ 0");
        }
        if (efficiency == null || shapes == null) {
            throw new IllegalArgumentException("GPU " + name + " needs efficiency factors and kernel shapes");
        }
    }

    public boolean hasFp8() {
        return fp8Flops > 0;
    }

    /** The dense GEMM peak for weights of {@code weightBytes} bytes per element (1 = FP8 where supported). */
    public double gemmPeak(int weightBytes) {
        return weightBytes == 1 && hasFp8() ? fp8Flops : bf16Flops;
    }

    public GpuSpec withEfficiency(Efficiency e) {
        return new GpuSpec(name, description, memoryBytes, hbmBytesPerS, bf16Flops, fp8Flops, nvlinkBytesPerS, e, shapes);
    }
}
