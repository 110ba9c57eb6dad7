package io.pipefill.worker.engine;

import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.cuda.CudaLibraries;
import java.lang.reflect.InvocationTargetException;

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
        return switch (kind) {
            case cpu -> new CpuBackend(threads);
            case cuda -> cuda();
        };
    }

    private static Backend cuda() {
        try {
            return (Backend) Class.forName(CUDA_BACKEND).getConstructor().newInstance();
        } catch (InvocationTargetException e) {
            // the constructor's own error (missing library, no device, NVRTC failure) is the one to show
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException("the CUDA backend failed to start: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("the CUDA backend is not in this build: " + e, e);
        }
    }
}
