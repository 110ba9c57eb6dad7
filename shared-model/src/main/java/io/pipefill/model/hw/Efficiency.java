package io.pipefill.model.hw;

/**
 * The share of a datasheet peak that real kernels reach at large shapes: GEMMs, attention (flash-style kernels),
 * HBM streaming, and network links (NCCL bus bandwidth over the link's peak). Each is in (0, 1]; how they fall at
 * small shapes is {@link KernelShapes}. {@code layerOverheadMs} is a fixed cost per decoder layer per chunk
 * (kernel launches, norms, RoPE, small element-wise work) that the FLOP count misses; {@code chunkOverheadMs} one
 * per stage per chunk (waiting for the received activations, synchronising before the send, posting it, the
 * embedding and final norm launches). {@code Calibration} replaces the defaults with measured values.
 */
public record Efficiency(double gemm, double attention, double memory, double network, double layerOverheadMs,
                         double chunkOverheadMs) {

    /** Without a per-chunk overhead. */
    public Efficiency(double gemm, double attention, double memory, double network, double layerOverheadMs) {
        this(gemm, attention, memory, network, layerOverheadMs, 0);
    }

    public Efficiency {
        check("gemm", gemm);
        check("attention", attention);
        check("memory", memory);
        check("network", network);
        if (!(layerOverheadMs >= 0) || Double.isInfinite(layerOverheadMs)) {
            throw new IllegalArgumentException("per-layer overhead must be a finite number of ms ≥ 0, got " + layerOverheadMs);
        }
        if (!(chunkOverheadMs >= 0) || Double.isInfinite(chunkOverheadMs)) {
            throw new IllegalArgumentException("per-chunk overhead must be a finite number of ms ≥ 0, got " + chunkOverheadMs);
        }
    }

    private static void check(String name, double v) {
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException(name + " efficiency must be in (0, 1], got " + v);
        }
    }

    public Efficiency withGemm(double v) {
        return new Efficiency(v, attention, memory, network, layerOverheadMs, chunkOverheadMs);
    }

    public Efficiency withAttention(double v) {
        return new Efficiency(gemm, v, memory, network, layerOverheadMs, chunkOverheadMs);
    }

    public Efficiency withNetwork(double v) {
        return new Efficiency(gemm, attention, memory, v, layerOverheadMs, chunkOverheadMs);
    }

    public Efficiency withMemory(double v) {
        return new Efficiency(gemm, attention, v, network, layerOverheadMs, chunkOverheadMs);
    }

    public Efficiency withChunkOverheadMs(double v) {
        return new Efficiency(gemm, attention, memory, network, layerOverheadMs, v);
    }

    public Efficiency withLayerOverheadMs(double v) {
        return new Efficiency(gemm, attention, memory, network, v, chunkOverheadMs);
    }
}
