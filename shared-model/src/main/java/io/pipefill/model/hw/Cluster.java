package io.pipefill.model.hw;

/**
 * {@code nodes} × {@code gpusPerNode} identical GPUs. Inside a node GPUs talk over NVLink; across nodes each GPU
 * has its own NIC ({@code nicBytesPerS} per direction, default 400 Gb/s = 50 GB/s, rail-optimised so that GPU i of
 * every node shares a rail). Latencies are per message, as NCCL sees them (ms).
 */
public record Cluster(GpuSpec gpu, int nodes, int gpusPerNode, double nicBytesPerS, double nicLatencyMs,
                      double nvlinkLatencyMs) {

    public static final double DEFAULT_NIC_BYTES_PER_S = 400e9 / 8;
    public static final double DEFAULT_NIC_LATENCY_MS = 0.025;
    public static final double DEFAULT_NVLINK_LATENCY_MS = 0.010;

    public Cluster {
        if (gpu == null) {
            throw new IllegalArgumentException("a cluster needs a GPU type");
        }
        if (nodes < 1) {
            throw new IllegalArgumentException("--nodes must be at least 1, got " + nodes);
        }
        if (gpusPerNode < 1) {
            throw new IllegalArgumentException("--gpus-per-node must be at least 1, got " + gpusPerNode);
        }
        if (!(nicBytesPerS > 0) || Double.isInfinite(nicBytesPerS)) {
            throw new IllegalArgumentException("NIC bandwidth must be positive, got " + nicBytesPerS + " B/s");
        }
        if (!(nicLatencyMs >= 0) || !(nvlinkLatencyMs >= 0)) {
            throw new IllegalArgumentException("link latencies must be ≥ 0 ms");
        }
    }

    public static Cluster of(GpuSpec gpu, int nodes, int gpusPerNode) {
        return new Cluster(gpu, nodes, gpusPerNode, DEFAULT_NIC_BYTES_PER_S, DEFAULT_NIC_LATENCY_MS,
                DEFAULT_NVLINK_LATENCY_MS);
    }

    public int totalGpus() {
        return nodes * gpusPerNode;
    }

    /** Node of a global rank when ranks fill nodes in order (rank = stage × tp + tp rank). */
    public int nodeOf(int rank) {
        return rank / gpusPerNode;
    }

    public Cluster withGpu(GpuSpec g) {
        return new Cluster(g, nodes, gpusPerNode, nicBytesPerS, nicLatencyMs, nvlinkLatencyMs);
    }

    public Cluster withNic(double bytesPerS, double latencyMs) {
        return new Cluster(gpu, nodes, gpusPerNode, bytesPerS, latencyMs, nvlinkLatencyMs);
    }
}
