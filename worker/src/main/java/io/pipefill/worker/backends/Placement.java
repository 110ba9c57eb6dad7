package io.pipefill.worker.backends;

import io.pipefill.worker.comm.DeviceRank;
import java.util.Objects;

/**
 * Where a rank's stage computes: its backend and, for cuda, whether the GPU is shared by several stages of this
 * process (an in-process pipeline; each pools its share of the memory) or belongs to a rank joined to its peers
 * over NCCL ({@code deviceRank}). One value for what StageWorker, LoadedStage and Backends pass along together.
 */
public record Placement(Backends.Kind backend, int stagesOnDevice, DeviceRank deviceRank) {
    public Placement {
        Objects.requireNonNull(backend, "backend");
        if (stagesOnDevice < 1) {
            throw new IllegalArgumentException("stages on one device must be at least 1, got " + stagesOnDevice);
        }
        if (deviceRank != null && backend != Backends.Kind.cuda) {
            throw new IllegalArgumentException("a device rank serves the cuda backend, not " + backend);
        }
        if (deviceRank != null && stagesOnDevice != 1) {
            throw new IllegalArgumentException("a rank joined to peers has its GPU to itself, not a share of "
                    + stagesOnDevice);
        }
    }

    /** The only stage on its device (or on the CPU). */
    public static Placement alone(Backends.Kind backend) {
        return new Placement(backend, 1, null);
    }

    /** One of {@code stagesOnDevice} stages of this process on GPU 0 (cpu: the count is ignored). */
    public static Placement sharing(Backends.Kind backend, int stagesOnDevice) {
        return new Placement(backend, stagesOnDevice, null);
    }

    /** A rank of a multi-process CUDA pipeline, on the GPU {@code rank} took when it joined its peers. */
    public static Placement joined(DeviceRank rank) {
        return new Placement(Backends.Kind.cuda, 1, Objects.requireNonNull(rank, "rank"));
    }
}
