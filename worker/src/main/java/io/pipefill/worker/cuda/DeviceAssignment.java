package io.pipefill.worker.cuda;

/**
 * Which GPU a rank of a multi-process CUDA pipeline uses. The rule: every rank of a single-node pipeline is a
 * process of its own on GPU {@code localRank}, and on one node the local rank is the world rank, so rank r
 * (stage r / tp, TP rank r % tp) takes device r. One rank per GPU because NCCL refuses two ranks of one
 * communicator on one device; CUDA_VISIBLE_DEVICES chooses (and orders) which physical GPUs devices 0..n-1 are.
 * Plain Java, so the rule and its errors are tested without a GPU.
 */
final class DeviceAssignment {
    private DeviceAssignment() {
    }

    /** The device of {@code rank} in a pipeline of {@code worldSize} ranks on a host where CUDA sees {@code deviceCount} GPUs. */
    static int deviceFor(int rank, int worldSize, int deviceCount) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " is outside a pipeline of " + worldSize + " ranks");
        }
        requireDevices(worldSize, deviceCount);
        return rank;
    }

    /** Fails, saying how many GPUs the pipeline needs and how many CUDA sees, unless there is one per rank. */
    public static void requireDevices(int worldSize, int deviceCount) {
        if (deviceCount < 0) {
            throw new IllegalArgumentException("a device count cannot be negative, got " + deviceCount);
        }
        if (deviceCount < worldSize) {
            String visible = System.getenv("CUDA_VISIBLE_DEVICES");
            throw new IllegalStateException("a CUDA pipeline of " + worldSize + " worker processes needs " + worldSize
                    + " GPUs on this host, one per rank (rank r uses GPU r), but CUDA sees " + deviceCount
                    + (visible != null ? " (CUDA_VISIBLE_DEVICES=" + visible + ")" : "")
                    + "; with one GPU, run the stages as threads sharing it: --pp N --in-process (tp 1)");
        }
    }
}
