package io.pipefill.worker.cpu;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/** Row-major single-precision GEMM through OpenBLAS (JavaCPP presets), and its thread count. */
public final class Blas {
    private Blas() {
    }

    /** Sets how many threads OpenBLAS itself uses for one call. The setting is process-wide. */
    public static void setThreads(int threads) {
        org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(threads);
    }

    public static int threads() {
        return org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads();
    }

    /**
     * C[m×n] = alpha · A[m×k] · op(B) + beta · C, with op(B) = Bᵀ when {@code bTransposed} (B stored n×k, as
     * PyTorch stores Linear weights) or B (stored k×n).
     */
    public static void gemm(int m, int n, int k, float alpha, FloatPointer a, int lda, FloatPointer b, int ldb,
                            boolean bTransposed, float beta, FloatPointer c, int ldc) {
        openblas_nolapack.cblas_sgemm(CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /** y = x · Wᵀ (+ beta · y) for activations x[m×in] and a Linear weight W[out×in]. */
    public static void linear(int m, int in, int out, FloatPointer x, FloatPointer w, float beta, FloatPointer y) {
        gemm(m, out, in, 1f, x, in, w, in, true, beta, y, out);
    }
}
