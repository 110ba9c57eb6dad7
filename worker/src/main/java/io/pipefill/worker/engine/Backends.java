package io.pipefill.worker.engine;

import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.cuda.CudaLibraries;
import io.pipefill.worker.transport.ActivationLink;
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

    public static Backend create(Kind kind, int threads) {
        return create(kind, threads, 1);
    }

    /** {@code stagesOnDevice}: ranks of this process that share the GPU, each with its share of the memory (cuda only). */
    public static Backend create(Kind kind, int threads, int stagesOnDevice) {
        if (stagesOnDevice < 1) {
            throw new IllegalArgumentException("stages on one device must be at least 1, got " + stagesOnDevice);
        }
        return switch (kind) {
            case cpu -> new CpuBackend(threads);
            case cuda -> (Backend) cudaObject(CUDA_BACKEND, new Class<?>[] {int.class}, stagesOnDevice);
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

    private static Object cudaObject(String className, Class<?>[] types, Object... args) {
        try {
            return Class.forName(className).getConstructor(types).newInstance(args);
        } catch (InvocationTargetException e) {
            // the constructor's own error (missing library, no device, NVRTC failure) is the one to show
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(className + " failed to start: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(className + " (CUDA) is not in this build: " + e, e);
        }
    }
}
