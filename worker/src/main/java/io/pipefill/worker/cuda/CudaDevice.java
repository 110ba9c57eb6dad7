package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cudart.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
import static org.bytedeco.cuda.global.cudart.cuFuncSetAttribute;
import static org.bytedeco.cuda.global.cudart.cuInit;
import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcVersion;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * One GPU as the CUDA stage sees it: the primary context, one stream, cuBLASLt for the GEMMs, our kernels (NVRTC
 * to a cubin for this device, cached on disk, loaded with the driver API) and a {@link DevicePool} over one
 * cudaMalloc. Everything is issued on the one stream, so kernels and GEMMs need no events between them; host
 * copies synchronise the stream before returning.
 *
 * <p>Verified on an H200, GEMMs through cuBLASLt ({@link CublasLtMatmul}) included; {@code GemmProbe} (module
 * gpu-probes, with handles of its own) checks them against cublasGemmEx.
 */
final class CudaDevice implements AutoCloseable {
    /** Bytes of the pools of this process's live devices: {@link PoolShare} sizes the next pool from them. */
    private static long pooledInProcess;

    final String arch;
    private CUstream_st stream;
    private CublasLtMatmul lt;
    private final List<CUmod_st> modules = new ArrayList<>();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    /** Where compiled kernels are kept. */
    private final CubinCache kernelCache;
    /** Dynamic shared memory each kernel may use without another cuFuncSetAttribute. */
    private final Map<String, Integer> sharedOptIn = new HashMap<>();
    private static final int DEFAULT_SHARED_BYTES = 48 * 1024;
    private long base;
    private final double poolFraction;
    final DevicePool pool;
    private ShortPointer staging = new ShortPointer(1 << 16);
    private boolean closed;
    /** This device's share of {@link #pooledInProcess}, returned on release. */
    private long pooledBytes;

    /** A device address as a kernel argument (a 64-bit pointer, not a long long scalar). */
    record Address(long value) {
    }

    /**
     * {@code poolFraction}: the share of the device memory this device's pool takes ({@link PoolShare}); several
     * stages of one process on one GPU split {@link PoolShare#TOTAL_FRACTION} between them.
     */
    CudaDevice(int device, CubinCache cache, double poolFraction) {
        PoolShare.checkFraction(poolFraction);
        this.poolFraction = poolFraction;
        this.kernelCache = Objects.requireNonNull(cache, "cubin cache");
        check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        // the runtime API creates and binds the primary context; the driver API calls below then use it
        driver(cuInit(0), "cuInit");
        int[] major = {0};
        int[] minor = {0};
        check(cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
        check(cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, device), "compute capability");
        arch = NvrtcOptions.arch(major[0], minor[0]);
        try {
            pool = start();
        } catch (RuntimeException | Error e) {
            // a failed start (NVRTC error, no memory) must not leave a stream, handle or modules behind
            release();
            throw e;
        }
    }

    private DevicePool start() {
        CUstream_st s = new CUstream_st();
        check(cudaStreamCreate(s), "cudaStreamCreate");
        stream = s;
        loadKernels();
        long capacity;
        // measuring and allocating under one lock: ranks loading in parallel threads must not both see the same free memory
        synchronized (CudaDevice.class) {
            SizeTPointer free = new SizeTPointer(1);
            SizeTPointer total = new SizeTPointer(1);
            check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            capacity = PoolShare.poolBytes(free.get(), pooledInProcess, poolFraction);
            PointerPointer<Pointer> p = new PointerPointer<>(1);
            check(cudaMalloc(p, capacity), "cudaMalloc of the " + capacity / (1 << 20) + " MiB pool ("
                    + poolFraction + " of " + (free.get() + pooledInProcess) / (1 << 20) + " MiB)");
            base = p.get(0).address();
            pooledInProcess += capacity;
            pooledBytes = capacity;
        }
        DevicePool pool = new DevicePool(capacity);
        // allocated first and never freed, so it sits at the pool's start for the device's lifetime
        long workspace = pool.allocate(CublasLtMatmul.WORKSPACE_BYTES, "cuBLASLt workspace");
        lt = new CublasLtMatmul(stream, ptr(workspace), CublasLtMatmul.WORKSPACE_BYTES);
        return pool;
    }

    private void loadKernels() {
        for (Map.Entry<String, List<String>> e : KernelSources.KERNELS.entrySet()) {
            loadModule(e.getKey(), arch, e.getValue());
        }
    }

    /**
     * Compiles (or takes from the cache) and loads an architecture-specific source ({@link KernelSources#ARCH_SPECIFIC})
     * the first time a stage asks for it (at load, on the stage's thread); start-up does not pay for kernels no stage
     * uses.
     */
    void loadArchSpecific(String file) {
        KernelSources.ArchKernels k = KernelSources.ARCH_SPECIFIC.get(file);
        if (k == null) {
            throw new IllegalArgumentException("'" + file + "' is not an architecture-specific kernel source; known: "
                    + KernelSources.ARCH_SPECIFIC.keySet());
        }
        if (!k.arch().equals(arch)) {
            throw new IllegalStateException(file + " runs on " + k.arch() + " devices only; this one is " + arch);
        }
        if (!functions.containsKey(k.kernels().get(0))) {
            loadModule(file, NvrtcOptions.archSpecific(arch), k.kernels());
        }
    }

    private void loadModule(String file, String compileArch, List<String> kernels) {
        List<String> options = NvrtcOptions.options(compileArch, NvrtcOptions.defaultIncludeDir());
        byte[] cubin = kernelCache.getOrCompile(KernelSources.cacheKey(file, compileArch, compilerId()), () -> compile(file, options));
        CUmod_st module = new CUmod_st();
        driver(cuModuleLoadData(module, new BytePointer(cubin)), "cuModuleLoadData(" + file + ")");
        modules.add(module);
        for (String kernel : kernels) {
            CUfunc_st f = new CUfunc_st();
            driver(cuModuleGetFunction(f, module, kernel), "cuModuleGetFunction(" + kernel + ")");
            functions.put(kernel, f);
        }
    }

    private static String compilerId() {
        int[] vMajor = {0};
        int[] vMinor = {0};
        nvrtcCheck(nvrtcVersion(vMajor, vMinor), "nvrtcVersion");
        return NvrtcOptions.compilerId(vMajor[0], vMinor[0]);
    }

    private static byte[] compile(String file, List<String> options) {
        _nvrtcProgram prog = new _nvrtcProgram();
        nvrtcCheck(nvrtcCreateProgram(prog, new BytePointer(KernelSources.load(file)), new BytePointer(file), 0,
                (PointerPointer<?>) null, (PointerPointer<?>) null), "nvrtcCreateProgram(" + file + ")");
        try {
            int rc = nvrtcCompileProgram(prog, options.size(), new PointerPointer<>(options.toArray(new String[0])));
            if (rc != 0) {
                SizeTPointer size = new SizeTPointer(1);
                nvrtcGetProgramLogSize(prog, size);
                byte[] log = new byte[(int) size.get()];
                nvrtcGetProgramLog(prog, log);
                throw new IllegalStateException("NVRTC failed to compile " + file + " with " + options + ": "
                        + nvrtcGetErrorString(rc).getString() + "\n" + new String(log, StandardCharsets.UTF_8).trim());
            }
            SizeTPointer size = new SizeTPointer(1);
            nvrtcCheck(nvrtcGetCUBINSize(prog, size), "nvrtcGetCUBINSize");
            byte[] cubin = new byte[(int) size.get()];
            nvrtcCheck(nvrtcGetCUBIN(prog, cubin), "nvrtcGetCUBIN");
            return cubin;
        } finally {
            nvrtcDestroyProgram(prog);
        }
    }

    /** The one stream everything is issued on: library handles (cuDNN, NCCL) are bound to it, links record events on it. */
    CUstream_st stream() {
        return stream;
    }

    /** The device pointer at {@code offset} in the pool. */
    Pointer ptr(long offset) {
        return new DevicePointer(base + offset);
    }

    Address arg(long offset) {
        return new Address(base + offset);
    }

    /** Launches {@code kernel} on the stream; args are Address, Integer, Long or Float, in the kernel's order. */
    void launch(String kernel, int gridX, int gridY, int blockX, Object... args) {
        launchWithShared(kernel, gridX, gridY, blockX, 0, args);
    }

    /** {@link #launch} with {@code sharedBytes} of dynamic shared memory (above 48 KiB needs an opt-in per kernel). */
    void launchWithShared(String kernel, int gridX, int gridY, int blockX, int sharedBytes, Object... args) {
        CUfunc_st f = functions.get(kernel);
        if (f == null) {
            throw new IllegalArgumentException("no kernel '" + kernel + "' loaded");
        }
        if (sharedBytes > sharedOptIn.getOrDefault(kernel, DEFAULT_SHARED_BYTES)) {
            driver(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes),
                    "cuFuncSetAttribute(" + kernel + ", max dynamic shared memory " + sharedBytes + " bytes)");
            sharedOptIn.put(kernel, sharedBytes);
        }
        PointerPointer<Pointer> params = new PointerPointer<>(args.length);
        List<Pointer> cells = new ArrayList<>(args.length);
        for (int i = 0; i < args.length; i++) {
            if (args[i] == null) {
                throw new IllegalArgumentException("null argument " + i + " of " + kernel);
            }
            Pointer cell = cell(args[i], kernel, i);
            cells.add(cell);
            params.put(i, cell);
        }
        driver(cuLaunchKernel(f, gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream, params, (PointerPointer<?>) null),
                "launch of " + kernel);
        // cuLaunchKernel copies the argument values, so the cells may go now
        cells.forEach(Pointer::close);
        params.close();
    }

    private static Pointer cell(Object a, String kernel, int i) {
        if (a instanceof Address d) {
            return new LongPointer(1).put(d.value());
        } else if (a instanceof Integer v) {
            return new IntPointer(1).put(v);
        } else if (a instanceof Long v) {
            return new LongPointer(1).put(v);
        } else if (a instanceof Float v) {
            return new FloatPointer(1).put(v);
        }
        throw new IllegalArgumentException("argument " + i + " of " + kernel + " has unsupported type " + a.getClass());
    }

    /**
     * C[rows × out] = A[rows × in] · W[out × in]ᵀ (+ C when accumulate), all row-major, A and W BF16, FP32
     * accumulation, C BF16 or (floatOutput) FP32; a, w and c are pool offsets. Row-major C is column-major
     * Cᵀ = W · Aᵀ, hence op(W) = T with lda = in (see {@link GemmShape}). Runs through cuBLASLt with a plan
     * cached per shape.
     */
    void linear(int rows, int in, int out, long a, long w, boolean accumulate, long c, boolean floatOutput) {
        GemmShape shape = GemmShape.of(rows, in, out, accumulate, floatOutput, base + a, base + w, base + c);
        lt.matmul(shape, ptr(a), ptr(w), ptr(c));
    }

    /** Copies BF16 values from the host to the pool at {@code offset} + {@code at} elements. */
    void uploadBf16(long offset, long at, short[] src, int count) {
        ShortPointer s = staging(count);
        s.put(src, 0, count);
        check(cudaMemcpyAsync(ptr(offset + at * 2), s, count * 2L, cudaMemcpyHostToDevice, stream), "upload");
        sync();  // the staging buffer is reused by the next call
    }

    void uploadFloats(long offset, float[] src, int count) {
        try (FloatPointer f = new FloatPointer(count)) {
            f.put(src, 0, count);
            check(cudaMemcpyAsync(ptr(offset), f, count * 4L, cudaMemcpyHostToDevice, stream), "upload");
            sync();
        }
    }

    void uploadInts(long offset, int[] src, int from, int count) {
        try (IntPointer p = new IntPointer(count)) {
            p.put(src, from, count);
            check(cudaMemcpyAsync(ptr(offset), p, count * 4L, cudaMemcpyHostToDevice, stream), "upload");
            sync();
        }
    }

    void downloadBf16(long offset, short[] dst, int count) {
        try (ShortPointer s = new ShortPointer(count)) {
            check(cudaMemcpyAsync(s, ptr(offset), count * 2L, cudaMemcpyDeviceToHost, stream), "download");
            sync();
            s.get(dst, 0, count);
        }
    }

    void downloadFloats(long offset, float[] dst, int count) {
        try (FloatPointer f = new FloatPointer(count)) {
            check(cudaMemcpyAsync(f, ptr(offset), count * 4L, cudaMemcpyDeviceToHost, stream), "download");
            sync();
            f.get(dst, 0, count);
        }
    }

    void sync() {
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    private ShortPointer staging(int count) {
        if (staging.capacity() < count) {
            staging.close();
            staging = new ShortPointer(count);
        }
        return staging;
    }

    static void check(int err, String what) {
        if (err != 0) {
            throw new IllegalStateException(what + " failed: CUDA error " + err + " (" + cudaGetErrorString(err).getString() + ")");
        }
    }

    private static void driver(int err, String what) {
        if (err != 0) {
            throw new IllegalStateException(what + " failed: CUresult " + err);
        }
    }

    private static void nvrtcCheck(int err, String what) {
        if (err != 0) {
            throw new IllegalStateException(what + " failed: " + nvrtcGetErrorString(err).getString());
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        sync();
        release();
    }

    private void release() {
        if (lt != null) {
            lt.close();
            lt = null;
        }
        if (base != 0) {
            cudaFree(ptr(0));
            base = 0;
            synchronized (CudaDevice.class) {
                pooledInProcess -= pooledBytes;
                pooledBytes = 0;
            }
        }
        modules.forEach(m -> cuModuleUnload(m));
        modules.clear();
        if (stream != null) {
            cudaStreamDestroy(stream);
            stream = null;
        }
        staging.close();
    }

    /** A raw device address; JavaCPP passes it through unchanged and never frees it. */
    private static final class DevicePointer extends Pointer {
        DevicePointer(long address) {
            this.address = address;
        }
    }
}
