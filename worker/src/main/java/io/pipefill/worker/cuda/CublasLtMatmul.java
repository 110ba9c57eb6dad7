package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_NOT_SUPPORTED;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cublas.cublasLtCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtGetStatusName;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetHeuristic;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutDestroy;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulAlgo_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The worker's GEMMs through cuBLASLt: one handle, one workspace in the device pool, and a plan per
 * {@link GemmShape} (descriptor, layouts and the heuristic's candidates), so that
 * cublasLtMatmulAlgoGetHeuristic runs once per shape and not once per layer and chunk. BF16 operands, FP32
 * compute and FP32 host-side alpha/beta; everything on the device's one stream, which is also why one
 * workspace suffices (two GEMMs never run at once).
 *
 * <p>Not thread-safe, like the rest of {@link CudaDevice}.
 */
final class CublasLtMatmul implements AutoCloseable {
    /** NVIDIA's recommendation for Hopper; Ampere kernels use less. Taken from the pool, not cudaMalloc'd. */
    static final long WORKSPACE_BYTES = 32L << 20;
    /** Candidates asked of the heuristic: the first usually works, the rest are the fallback. */
    static final int HEURISTIC_CANDIDATES = 8;
    /** Shapes kept; see {@link GemmPlans} for why it is bounded at all. */
    static final int PLAN_CAPACITY = 1024;

    private final cublasLtContext handle;
    private final CUstream_st stream;
    private final Pointer workspace;
    private final long workspaceBytes;
    private final GemmPlans<Plan> plans = new GemmPlans<>(PLAN_CAPACITY);
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private boolean closed;

    /** What the probe reports about a cached plan. */
    record PlanInfo(int candidates, int chosen, long chosenWorkspaceBytes, float wavesCount, long heuristicNanos,
                    List<String> rejected) {
    }

    CublasLtMatmul(CUstream_st stream, Pointer workspace, long workspaceBytes) {
        cublasLtContext h = new cublasLtContext();
        check(cublasLtCreate(h), "cublasLtCreate", null);
        this.handle = h;
        this.stream = stream;
        this.workspace = workspace;
        this.workspaceBytes = workspaceBytes;
    }

    /** D = C = W-transposed product per {@link GemmShape}; a, w and c are device addresses of the shape's operands. */
    void matmul(GemmShape shape, Pointer a, Pointer w, Pointer c) {
        if (closed) {
            throw new IllegalStateException("cuBLASLt matmul of " + shape.describe() + " after close");
        }
        plans.get(shape, Plan::new).run(a, w, c);
    }

    GemmPlans<?> plans() {
        return plans;
    }

    /** The plan's state for {@code shape}, or null when it was never run (or was evicted). */
    PlanInfo info(GemmShape shape) {
        Plan p = plans.peek(shape);
        if (p == null) {
            return null;
        }
        // chosen == candidates.length once every candidate was refused; report the last one tried
        int chosen = Math.min(p.chosen, p.candidates.length - 1);
        cublasLtMatmulHeuristicResult_t r = p.results.getPointer(p.candidates[chosen]);
        return new PlanInfo(p.candidates.length, p.chosen, r.workspaceSize(), r.wavesCount(), p.heuristicNanos,
                List.copyOf(p.rejected));
    }

    /** "CUBLAS_STATUS_NOT_SUPPORTED (15)". */
    static String statusName(int status) {
        return cublasLtGetStatusName(status).getString() + " (" + status + ")";
    }

    private static void check(int status, String call, GemmShape shape) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new IllegalStateException(call + (shape == null ? "" : " for GEMM " + shape.describe())
                    + " failed: " + statusName(status));
        }
    }

    private static int cudaType(GemmShape.Element e) {
        return switch (e) {
            case BF16 -> CUDA_R_16BF;
            case FP32 -> CUDA_R_32F;
        };
    }

    private static int op(GemmShape.Op op) {
        return switch (op) {
            case N -> CUBLAS_OP_N;
            case T -> CUBLAS_OP_T;
        };
    }

    /** Descriptors and ranked algorithms for one shape; the heuristic ran when it was made. */
    private final class Plan implements AutoCloseable {
        final GemmShape shape;
        cublasLtMatmulDescOpaque_t desc;
        cublasLtMatrixLayoutOpaque_t aLayout;
        cublasLtMatrixLayoutOpaque_t bLayout;
        cublasLtMatrixLayoutOpaque_t cLayout;
        /** All the heuristic returned; {@link #candidates} index it. Kept because each algo lives inside it. */
        cublasLtMatmulHeuristicResult_t results;
        int[] candidates;
        /** Index into candidates of the algorithm in use: it moves on only when one is NOT_SUPPORTED at run time. */
        int chosen;
        final long heuristicNanos;
        final List<String> rejected = new ArrayList<>();

        Plan(GemmShape shape) {
            this.shape = shape;
            long t0 = System.nanoTime();
            try {
                build();
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
            heuristicNanos = System.nanoTime() - t0;
        }

        private void build() {
            PointerPointer<Pointer> out = new PointerPointer<>(1);
            check(cublasLtMatmulDescCreate(out, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate", shape);
            desc = new cublasLtMatmulDescOpaque_t(out.get(0));
            try (IntPointer v = new IntPointer(1)) {
                v.put(op(shape.transA()));
                check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, v, 4),
                        "cublasLtMatmulDescSetAttribute(TRANSA)", shape);
                v.put(op(shape.transB()));
                check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, v, 4),
                        "cublasLtMatmulDescSetAttribute(TRANSB)", shape);
            }
            aLayout = layout(shape.a(), out, "A (the weights)");
            bLayout = layout(shape.b(), out, "B (the activations)");
            cLayout = layout(shape.c(), out, "C/D (the output)");
            out.close();

            PointerPointer<Pointer> pp = new PointerPointer<>(1);
            check(cublasLtMatmulPreferenceCreate(pp), "cublasLtMatmulPreferenceCreate", shape);
            cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
            pp.close();
            try (LongPointer ws = new LongPointer(1); IntPointer align = new IntPointer(1)) {
                ws.put(workspaceBytes);
                check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8),
                        "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", shape);
                align.put(shape.alignment());
                for (int attr : new int[] {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
                    check(cublasLtMatmulPreferenceSetAttribute(pref, attr, align, 4),
                            "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT " + attr + ")", shape);
                }
                results = new cublasLtMatmulHeuristicResult_t(HEURISTIC_CANDIDATES);
                int[] returned = {0};
                // C and D are the same buffer with the same layout: accumulation in place
                check(cublasLtMatmulAlgoGetHeuristic(handle, desc, aLayout, bLayout, cLayout, cLayout, pref,
                        HEURISTIC_CANDIDATES, results, returned), "cublasLtMatmulAlgoGetHeuristic", shape);
                int n = returned[0];
                int[] states = new int[n];
                long[] sizes = new long[n];
                for (int i = 0; i < n; i++) {
                    cublasLtMatmulHeuristicResult_t r = results.getPointer(i);
                    states[i] = r.state();
                    sizes[i] = r.workspaceSize();
                }
                candidates = GemmPlans.usable(states, sizes, workspaceBytes);
                if (candidates.length == 0) {
                    throw new IllegalStateException("cublasLtMatmulAlgoGetHeuristic found no usable algorithm for GEMM "
                            + shape.describe() + ": " + n + " returned, none with CUBLAS_STATUS_SUCCESS and a workspace"
                            + " within " + workspaceBytes + " bytes");
                }
            } finally {
                cublasLtMatmulPreferenceDestroy(pref);
            }
        }

        private cublasLtMatrixLayoutOpaque_t layout(GemmShape.Layout l, PointerPointer<Pointer> out, String what) {
            check(cublasLtMatrixLayoutCreate(out, cudaType(l.type()), l.rows(), l.cols(), l.ld()),
                    "cublasLtMatrixLayoutCreate of " + what + " " + l, shape);
            return new cublasLtMatrixLayoutOpaque_t(out.get(0));
        }

        void run(Pointer a, Pointer w, Pointer c) {
            Pointer beta = shape.accumulate() ? one : zero;
            for (; chosen < candidates.length; chosen++) {
                cublasLtMatmulAlgo_t algo = results.getPointer(candidates[chosen]).algo();
                int status = cublasLtMatmul(handle, desc, one, w, aLayout, a, bLayout, beta, c, cLayout, c, cLayout,
                        algo, workspace, workspaceBytes, stream);
                if (status == CUBLAS_STATUS_SUCCESS) {
                    return;
                }
                if (status != CUBLAS_STATUS_NOT_SUPPORTED) {
                    check(status, "cublasLtMatmul (heuristic candidate " + chosen + " of " + candidates.length + ")", shape);
                }
                // the heuristic's ranking is a prediction; an algorithm refusing these operands is skipped for good
                rejected.add("candidate " + chosen + ": " + statusName(status));
            }
            throw new IllegalStateException("cublasLtMatmul for GEMM " + shape.describe() + " failed with every one of the "
                    + candidates.length + " algorithms the heuristic offered: " + rejected);
        }

        @Override
        public void close() {
            if (cLayout != null) {
                cublasLtMatrixLayoutDestroy(cLayout);
                cLayout = null;
            }
            if (bLayout != null) {
                cublasLtMatrixLayoutDestroy(bLayout);
                bLayout = null;
            }
            if (aLayout != null) {
                cublasLtMatrixLayoutDestroy(aLayout);
                aLayout = null;
            }
            if (desc != null) {
                cublasLtMatmulDescDestroy(desc);
                desc = null;
            }
            if (results != null) {
                results.close();
                results = null;
            }
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        plans.close();
        cublasLtDestroy(handle);
        one.close();
        zero.close();
    }
}
