package io.pipefill.worker.backends;

import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.comm.DeviceRank;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.cuda.CudaLibraries;
import io.pipefill.model.Topology;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Transport;
import java.lang.reflect.InvocationTargetException;
import java.time.Duration;

/**
 * Chooses the compute backend (the CLI's prefill, the coordinator's ranks, the worker agent). The CUDA backend is loaded by name, only when chosen: no class of the CPU path
 * refers to it, so the CPU path never loads a JavaCPP CUDA class or library (CpuPathLoadsNoCudaTest).
 */
public final class Backends {
    /** Lower case, as typed on the command line. */
    public enum Kind {
        cpu, cuda
    }

    private static final String CUDA_BACKEND = "io.pipefill.worker.cuda.CudaBackend";
    private static final String DEVICE_LOCAL_FABRIC = "io.pipefill.worker.cuda.DeviceLocalLink$Fabric";
    private static final String NCCL_RANK = "io.pipefill.worker.cuda.NcclRank";

    private Backends() {
    }

    /**
     * Fails before any model is read when the chosen backend cannot run here; for cuda, with CudaLibraries'
     * message naming each missing library and the directories searched. CudaLibraries is plain Java.
     */
    public static void checkAvailable(Kind kind) {
        if (kind == Kind.cuda) {
            CudaLibraries.probe().requireAll();
        }
    }

    /**
     * Fails unless this host has a GPU for each of {@code ranks} worker processes of a CUDA pipeline (rank r takes
     * GPU r), naming both counts: the coordinator's check before it launches them. A no-op for cpu.
     */
    public static void checkDevicesFor(Kind kind, int ranks) {
        if (kind == Kind.cuda) {
            try {
                Class.forName(NCCL_RANK).getMethod("requireDevices", int.class).invoke(null, ranks);
            } catch (InvocationTargetException e) {
                throw rethrow(NCCL_RANK, e);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(NCCL_RANK + " (CUDA) is not in this build: " + e, e);
            }
        }
    }

    /**
     * Joins this rank of a multi-process {@code kind} pipeline to its peers (every rank calls it at the same point:
     * it is collective): its GPU, rank 0's NCCL id over {@code transport}, the world and TP communicators. Null
     * for cpu, whose ranks need nothing beyond the transport.
     */
    public static DeviceRank joinDeviceRank(Kind kind, Transport transport, Topology topology, Duration timeout) {
        if (kind != Kind.cuda) {
            return null;
        }
        return (DeviceRank) cudaObject(NCCL_RANK, new Class<?>[] {Transport.class, Topology.class, Duration.class},
                transport, topology, timeout);
    }

    public static Backend create(Kind kind, int threads) {
        return create(Placement.alone(kind), threads);
    }

    /** The backend of a rank placed as {@code placement} (its GPU share, or the GPU of a joined rank). */
    public static Backend create(Placement placement, int threads) {
        if (placement.deviceRank() != null) {
            return (Backend) cudaObject(CUDA_BACKEND, new Class<?>[] {DeviceRank.class}, placement.deviceRank());
        }
        return switch (placement.backend()) {
            case cpu -> new CpuBackend(threads);
            case cuda -> (Backend) cudaObject(CUDA_BACKEND, new Class<?>[] {int.class}, placement.stagesOnDevice());
        };
    }

    /**
     * The links of an in-process pipeline whose {@code worldSize} ranks share GPU 0: device-to-device copies
     * ordered with CUDA events. Loaded by name, like the backend.
     */
    public static ActivationLink.Fabric deviceLocalLinks(int worldSize, Duration timeout) {
        return (ActivationLink.Fabric) cudaObject(DEVICE_LOCAL_FABRIC, new Class<?>[] {int.class, Duration.class},
                worldSize, timeout);
    }

    /** The constructor's or method's own error (missing library, no device, NVRTC failure) is the one to show. */
    private static RuntimeException rethrow(String className, InvocationTargetException e) {
        if (e.getCause() instanceof RuntimeException r) {
            return r;
        }
        if (e.getCause() instanceof Error err) {
            throw err;
        }
        return new IllegalStateException(className + " failed to start: " + e.getCause(), e.getCause());
    }

    private static Object cudaObject(String className, Class<?>[] types, Object... args) {
        try {
            return Class.forName(className).getConstructor(types).newInstance(args);
        } catch (InvocationTargetException e) {
            throw rethrow(className, e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(className + " (CUDA) is not in this build: " + e, e);
        }
    }
}
