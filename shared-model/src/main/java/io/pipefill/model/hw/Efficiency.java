package io.pipefill.model.hw;

/**
 * The share of a datasheet peak that real kernels reach: GEMMs, attention (flash-style kernels), HBM streaming,
 * and network links (NCCL bus bandwidth over the link's peak). Each is in (0, 1]. {@code layerOverheadMs} is a
 * fixed cost per decoder layer per chunk (kernel launches, norms, RoPE, small element-wise work) that the FLOP
 * count misses. Defaults are public-benchmark guesses; {@code Calibration} replaces them with measured values.
 */
public record Efficiency(double gemm, double attention, double memory, double network, double layerOverheadMs) {

    public Efficiency {
        check("gemm", gemm);
        check("attention", attention);
        check("memory", memory);
        check("network", network);
        if (!(layerOverheadMs >= 0) || Double.isInfinite(layerOverheadMs)) {
            throw new IllegalArgumentException("per-layer overhead must be a finite number of ms ≥ 0, got " + layerOverheadMs);
        }
    }

    private static void check(String name, double v) {
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException(name + " efficiency must be in (0, 1], got " + v);
        }
    }

    public Efficiency withGemm(double v) {
        return new Efficiency(v, attention, memory, network, layerOverheadMs);
    }

    public Efficiency withAttention(double v) {
        return new Efficiency(gemm, v, memory, network, layerOverheadMs);
    }

    public Efficiency withNetwork(double v) {
        return new Efficiency(gemm, attention, memory, v, layerOverheadMs);
    }

    public Efficiency withMemory(double v) {
        return new Efficiency(gemm, attention, v, network, layerOverheadMs);
    }

    public Efficiency withLayerOverheadMs(double v) {
        return new Efficiency(gemm, attention, memory, network, v);
    }
}
