package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasGemmEx;
import static org.bytedeco.cuda.global.cublas.cublasSetStream_v2;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The GPU as {@link GemmProbe} needs it, opened by the probe itself so that the worker's {@link CudaDevice} carries
 * nothing for it: one stream, a {@link DevicePool} over one cudaMalloc (sized as a lone CudaDevice sizes its pool,
 * {@link PoolShare}), {@link CublasLtMatmul} over a workspace at the pool's start (as CudaDevice sets it up), and a
 * cuBLAS handle for the cublasGemmEx reference, the GEMM path verified on an H200 before cuBLASLt. No kernels are
 * compiled: the probe checks GEMMs only.
 */
final class GemmProbeDevice implements AutoCloseable {
    final String arch;
    final DevicePool pool;
    private CUstream_st stream;
    private cublasContext blas;
    private CublasLtMatmul lt;
    private long base;
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private boolean closed;

    GemmProbeDevice(int device) {
        CudaDevice.check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        int[] major = {0};
        int[] minor = {0};
        CudaDevice.check(cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
        CudaDevice.check(cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, device), "compute capability");
        arch = NvrtcOptions.arch(major[0], minor[0]);
        try {
            pool = start();
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    private DevicePool start() {
        CUstream_st s = new CUstream_st();
        CudaDevice.check(cudaStreamCreate(s), "cudaStreamCreate");
        stream = s;
        cublasContext b = new cublasContext();
        blasCheck(cublasCreate_v2(b), "cublasCreate");
        blas = b;
        blasCheck(cublasSetStream_v2(blas, stream), "cublasSetStream");
        SizeTPointer free = new SizeTPointer(1);
        SizeTPointer total = new SizeTPointer(1);
        CudaDevice.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
        long capacity = PoolShare.poolBytes(free.get(), 0, PoolShare.fraction(1));
        PointerPointer<Pointer> p = new PointerPointer<>(1);
        CudaDevice.check(cudaMalloc(p, capacity), "cudaMalloc of the " + capacity / (1 << 20) + " MiB pool");
        base = p.get(0).address();
        DevicePool pool = new DevicePool(capacity);
        long workspace = pool.allocate(CublasLtMatmul.WORKSPACE_BYTES, "cuBLASLt workspace");
        lt = new CublasLtMatmul(stream, ptr(workspace), CublasLtMatmul.WORKSPACE_BYTES);
        return pool;
    }

    CUstream_st stream() {
        return stream;
    }

    CublasLtMatmul lt() {
        return lt;
    }

    /** The device pointer at {@code offset} in the pool. */
    Pointer ptr(long offset) {
        return new DevicePointer(base + offset);
    }

    /**
     * C[rows × out] = A[rows × in] · W[out × in]ᵀ (+ C when accumulate) through cuBLASLt, exactly as
     * {@link CudaDevice#linear} issues it: a {@link GemmShape} of the pool addresses, the plan cached per shape.
     */
    void linear(int rows, int in, int out, long a, long w, boolean accumulate, long c, boolean floatOutput) {
        GemmShape shape = GemmShape.of(rows, in, out, accumulate, floatOutput, base + a, base + w, base + c);
        lt.matmul(shape, ptr(a), ptr(w), ptr(c));
    }

    /**
     * The same GEMM through cublasGemmEx, the path {@link CudaDevice#linear} used before cuBLASLt: the reference
     * the probe checks cuBLASLt against and times it beside. Row-major C is column-major Cᵀ = W · Aᵀ, hence
     * op(W) = T with lda = in.
     */
    void linearGemmEx(int rows, int in, int out, long a, long w, boolean accumulate, long c, boolean floatOutput) {
        blasCheck(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, one, ptr(w), CUDA_R_16BF, in,
                ptr(a), CUDA_R_16BF, in, accumulate ? one : zero, ptr(c), floatOutput ? CUDA_R_32F : CUDA_R_16BF, out,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx " + rows + "x" + in + " · " + out + "x" + in + "ᵀ");
    }

    /** Copies BF16 values from the host to the pool at {@code offset} + {@code at} elements. */
    void uploadBf16(long offset, long at, short[] src, int count) {
        try (ShortPointer s = new ShortPointer(count)) {
            s.put(src, 0, count);
            CudaDevice.check(cudaMemcpyAsync(ptr(offset + at * 2), s, count * 2L, cudaMemcpyHostToDevice, stream), "upload");
            sync();
        }
    }

    void uploadFloats(long offset, float[] src, int count) {
        try (FloatPointer f = new FloatPointer(count)) {
            f.put(src, 0, count);
            CudaDevice.check(cudaMemcpyAsync(ptr(offset), f, count * 4L, cudaMemcpyHostToDevice, stream), "upload");
            sync();
        }
    }

    void downloadBf16(long offset, short[] dst, int count) {
        try (ShortPointer s = new ShortPointer(count)) {
            CudaDevice.check(cudaMemcpyAsync(s, ptr(offset), count * 2L, cudaMemcpyDeviceToHost, stream), "download");
            sync();
            s.get(dst, 0, count);
        }
    }

    void downloadFloats(long offset, float[] dst, int count) {
        try (FloatPointer f = new FloatPointer(count)) {
            CudaDevice.check(cudaMemcpyAsync(f, ptr(offset), count * 4L, cudaMemcpyDeviceToHost, stream), "download");
            sync();
            f.get(dst, 0, count);
        }
    }

    void sync() {
        CudaDevice.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    private static void blasCheck(int err, String what) {
        if (err != 0) {
            throw new IllegalStateException(what + " failed: cublasStatus " + err);
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
        }
        if (blas != null) {
            cublasDestroy_v2(blas);
            blas = null;
        }
        if (stream != null) {
            cudaStreamDestroy(stream);
            stream = null;
        }
        one.close();
        zero.close();
    }

    /** A raw device address; JavaCPP passes it through unchanged and never frees it. */
    private static final class DevicePointer extends Pointer {
        DevicePointer(long address) {
            this.address = address;
        }
    }
}
