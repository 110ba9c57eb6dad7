package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINECFG_ENGINE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_RESULTS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINE_GLOBAL_INDEX;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_MATMUL_COMP_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATIONGRAPH_OPS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_MATMUL_ADESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_MATMUL_BDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_MATMUL_CDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_MATMUL_DESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_POINTWISE_BDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_POINTWISE_TDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_POINTWISE_XDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_POINTWISE_YDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_REDUCTION_DESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_REDUCTION_XDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_REDUCTION_YDESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_POINTWISE_AXIS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_POINTWISE_MATH_PREC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_POINTWISE_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_REDUCTION_COMP_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_REDUCTION_OPERATOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_DATA_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_DIMENSIONS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_IS_BY_VALUE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_IS_VIRTUAL;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_STRIDES;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_UNIQUE_ID;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_WORKSPACE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINE_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_MATMUL_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_POINTWISE_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_REDUCTION_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_TENSOR_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BFLOAT16;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BOOLEAN;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_INT32;
import static org.bytedeco.cuda.global.cudnn.CUDNN_HEUR_MODE_A;
import static org.bytedeco.cuda.global.cudnn.CUDNN_HEUR_MODE_B;
import static org.bytedeco.cuda.global.cudnn.CUDNN_HEUR_MODE_FALLBACK;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_ADD;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_BINARY_SELECT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_CMP_GE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_DIV;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_EXP;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_GEN_INDEX;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_LOG;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_MUL;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POINTWISE_SUB;
import static org.bytedeco.cuda.global.cudnn.CUDNN_REDUCE_TENSOR_ADD;
import static org.bytedeco.cuda.global.cudnn.CUDNN_REDUCE_TENSOR_MAX;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_BACKEND_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_BOOLEAN;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_CHAR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_DATA_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_HEUR_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_INT64;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_POINTWISE_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_REDUCTION_OPERATOR_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_VOID_PTR;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendCreateDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendDestroyDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendExecute;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendFinalize;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendGetAttribute;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendSetAttribute;
import static org.bytedeco.cuda.global.cudnn.cudnnCreate;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroy;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;
import static org.bytedeco.cuda.global.cudnn.cudnnGetLastErrorString;
import static org.bytedeco.cuda.global.cudnn.cudnnGetVersion;
import static org.bytedeco.cuda.global.cudnn.cudnnSetStream;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudnn.cudnnBackendDescriptor_t;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Causal chunk-against-prefix attention through cuDNN's fused flash attention, built with the backend graph
 * API (there is no cudnn-frontend for Java). The operation graph is the one cudnn-frontend's
 * {@code CompositeSDPANode} lowers an inference {@code sdpa} with a bottom-right causal mask to on cuDNN
 * before 9.21 (the unified SDPA_FWD operation of 9.13+ gains masks and diagonal alignment only in 9.21):
 *
 * <pre>
 *   S1 = Q · Kᵀ                     matmul, FP32 compute, FP32 virtual
 *   S2 = S1 · scale                 pointwise MUL, scale passed by value
 *   row, col = GEN_INDEX(S2, 2 / 3) INT32 virtual
 *   M  = row + s_kv - s_q >= col    ADD, SUB (INT32, s_kv and s_q by value), CMP_GE (BOOLEAN)
 *   S3 = M ? S2 : -inf              BINARY_SELECT
 *   softmax: max, sub, exp, sum, (log, add into a virtual stats tensor), div into P (BF16 virtual)
 *   O  = P · V                      matmul into the BF16 output
 * </pre>
 *
 * cuDNN pattern-matches this graph onto its flash-attention engine; the frontend keeps the virtual stats
 * subgraph even for inference, so it is kept here too. Plans are cached by {@link AttentionShape#planKey}:
 * chunks differ in rows and kvLen, layers share one plan. A plan takes ~43 ms to build for the 8b shape's 8K
 * chunks and 0.06–0.9 s for the probe's smaller shapes (H200, cuDNN 9.19, docs/gpu run 5), so a stage builds the
 * plans of its run's chunks before the run's clock starts ({@link #prepare}) and they are pinned; other plans
 * are kept up to {@link #MAX_UNPINNED_PLANS}, least recently used evicted first (a long-lived worker sees ever
 * new prompt lengths). A refusal is remembered per {@link AttentionShape.Family}: no other sequence length of a
 * refused family is searched again. If no engine accepts the frontend's graph, two simpler variants are tried
 * (see {@link Variant}); {@link PlanInfo#variant} says which one runs.
 *
 * <p>Not thread-safe: one instance per stage, used from the stage's thread, on the device's one stream.
 * Unverified without a GPU: {@code CudnnAttentionProbe} (module gpu-probes) is its first check.
 */
final class CudnnAttention implements AutoCloseable {
    /** Environment knobs worth setting when a graph fails; cuDNN 9 reads the first two, 8.x the others. */
    static final String DEBUG_HINT = "for cuDNN's own log set CUDNN_LOGLEVEL_DBG=3 CUDNN_LOGDEST_DBG=stderr "
            + "(cuDNN 9; 8.x-style CUDNN_LOGERR_DBG=1 CUDNN_LOGWARN_DBG=1 CUDNN_LOGINFO_DBG=1 also work)";

    private static final long UID_Q = 1;
    private static final long UID_K = 2;
    private static final long UID_V = 3;
    private static final long UID_O = 4;
    private static final long UID_SCALE = 5;
    private static final long UID_NEG_INF = 6;
    private static final long UID_S_KV = 7;
    private static final long UID_S_Q = 8;
    private static final long UID_OFFSET = 9;
    /** Engine configs asked of one heuristic query; cuDNN lists the flash engine first when it matches. */
    private static final int MAX_CONFIGS = 32;
    /**
     * Plans kept besides the pinned ones: a few requests' worth of chunk shapes (a 64K prompt in 8K chunks is 8);
     * beyond that a long-lived worker would only accumulate plans of prompt lengths it may never see again.
     */
    static final int MAX_UNPINNED_PLANS = 64;

    /**
     * Graph variants, tried in order. FRONTEND is cudnn-frontend's graph verbatim; the other two exist only
     * because no GPU was at hand when this was written: a single offset add instead of ADD s_kv / SUB s_q, and
     * the softmax without the virtual stats subgraph.
     */
    enum Variant {
        FRONTEND(false, true),
        SINGLE_OFFSET(true, true),
        NO_STATS(false, false);

        final boolean singleOffset;
        final boolean virtualStats;

        Variant(boolean singleOffset, boolean virtualStats) {
            this.singleOffset = singleOffset;
            this.virtualStats = virtualStats;
        }
    }

    /** System property naming the variants to try, comma-separated, in order (default: all, in declaration order). */
    static final String VARIANT_PROPERTY = "pipefill.cudnn.attention.variants";

    static List<Variant> variants() {
        String p = System.getProperty(VARIANT_PROPERTY, "").trim();
        if (p.isEmpty()) {
            return List.of(Variant.values());
        }
        List<Variant> out = new ArrayList<>();
        for (String name : p.split(",")) {
            try {
                out.add(Variant.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-D" + VARIANT_PROPERTY + "=" + p + ": unknown variant '" + name.trim()
                        + "'; known: " + java.util.Arrays.toString(Variant.values()), e);
            }
        }
        return out;
    }

    /** How a plan was chosen, for logs and the probe. */
    record PlanInfo(Variant variant, String heuristic, int configIndex, int configCount, long engineGlobalIndex,
                    long workspaceBytes, double buildMillis, String json, List<String> rejected) {
    }

    private final CudaDevice dev;
    private cudnnContext handle;
    private final PlanCache<AttentionShape.PlanKey, Plan> plans;
    /** Shape families cuDNN offered no engine for, with its reason. */
    private final Map<AttentionShape.Family, String> refused = new HashMap<>();
    private long workspace = -1;
    private long workspaceBytes;
    private boolean closed;

    CudnnAttention(CudaDevice dev) {
        this(dev, MAX_UNPINNED_PLANS);
    }

    /** With room for {@code maxUnpinnedPlans} plans besides the pinned ones (the GPU probe evicts with a small one). */
    CudnnAttention(CudaDevice dev, int maxUnpinnedPlans) {
        this.dev = dev;
        this.plans = new PlanCache<>(maxUnpinnedPlans, this::retire);
        cudnnContext h = new cudnnContext();
        check(cudnnCreate(h), "cudnnCreate");
        handle = h;
        try {
            check(cudnnSetStream(handle, dev.stream()), "cudnnSetStream");
        } catch (RuntimeException e) {
            cudnnDestroy(handle);
            handle = null;
            throw e;
        }
    }

    /** The loaded libcudnn's version, e.g. 91900; the presets were built against {@code cudnn.CUDNN_VERSION}. */
    static long version() {
        return cudnnGetVersion();
    }

    /**
     * out = softmax(scale · q·kᵀ, causal bottom-right) · v for one chunk, issued on the device stream (no
     * synchronisation). Addresses are absolute device addresses ({@code dev.arg(offset).value()}), laid out as
     * {@link AttentionShape} describes.
     */
    void attend(AttentionShape shape, long qAddr, long kAddr, long vAddr, long outAddr) {
        ensureOpen();
        AttentionShape.checkAligned("q", qAddr);
        AttentionShape.checkAligned("k cache", kAddr);
        AttentionShape.checkAligned("v cache", vAddr);
        AttentionShape.checkAligned("out", outAddr);
        Plan plan = plan(shape);
        long ws = workspaceFor(plan.info.workspaceBytes());
        plan.execute(qAddr, kAddr, vAddr, outAddr, ws);
    }

    /**
     * {@link #attend}, or false (nothing issued) when cuDNN offers no engine for this shape's family; the refusal
     * is remembered per family, so a caller with a fallback kernel pays for one failed plan search per family, not
     * one per prompt length. A plan built before the refusal still runs.
     */
    boolean tryAttend(AttentionShape shape, long qAddr, long kAddr, long vAddr, long outAddr) {
        AttentionShape.PlanKey key = shape.planKey();
        if (!plans.contains(key) && refused.containsKey(shape.family())) {
            return false;
        }
        try {
            attend(shape, qAddr, kAddr, vAddr, outAddr);
            return true;
        } catch (IllegalStateException e) {
            if (plans.contains(key)) {
                throw e;  // a plan that built but failed to run is an error, not a missing engine
            }
            refuse(shape, e);
            return false;
        }
    }

    private void refuse(AttentionShape shape, IllegalStateException e) {
        refused.put(shape.family(), e.getMessage());
        System.err.println("warning: cuDNN attention unavailable for " + shape + "; every shape of its family "
                + shape.family() + " uses the fallback kernel: " + e.getMessage());
    }

    /**
     * What {@link #prepare} did: distinct shapes asked for, plans it built, shapes left to the fallback (their
     * family refused), and how long that took.
     */
    record Prepared(int shapes, int built, int refused, double millis) {
    }

    /**
     * Builds the plans of {@code shapes} that are not cached yet and pins all of them (unpinning those of an
     * earlier preparation), so that the chunks they are for start without a plan build. A shape whose family is
     * refused, or becomes refused here, is skipped: its chunks use the caller's fallback.
     */
    Prepared prepare(Collection<AttentionShape> shapes) {
        ensureOpen();
        long t0 = System.nanoTime();
        Map<AttentionShape.PlanKey, AttentionShape> distinct = new LinkedHashMap<>();
        for (AttentionShape s : shapes) {
            distinct.putIfAbsent(s.planKey(), s);
        }
        // pinned first, so that building the later ones cannot evict the earlier ones
        plans.pinOnly(distinct.keySet());
        int built = 0;
        int skipped = 0;
        for (Map.Entry<AttentionShape.PlanKey, AttentionShape> e : distinct.entrySet()) {
            AttentionShape s = e.getValue();
            if (plans.contains(e.getKey())) {
                continue;
            }
            if (refused.containsKey(s.family())) {
                skipped++;
                continue;
            }
            Plan plan;
            try {
                plan = build(s);
            } catch (IllegalStateException x) {
                refuse(s, x);
                skipped++;
                continue;
            }
            // outside the try: an eviction here syncs the stream, and a CUDA error it reports is not a refusal
            plans.put(e.getKey(), plan);
            built++;
        }
        return new Prepared(distinct.size(), built, skipped, (System.nanoTime() - t0) / 1e6);
    }

    /**
     * Why cuDNN refused {@code shape}'s family (the message {@link #tryAttend} or {@link #prepare} remembered), or
     * null if it did not.
     */
    String refusal(AttentionShape shape) {
        return refused.get(shape.family());
    }

    /** The plan for {@code shape}, built (and cached) on first use. */
    PlanInfo planInfo(AttentionShape shape) {
        ensureOpen();
        return plan(shape).info;
    }

    int cachedPlans() {
        return plans.size();
    }

    private Plan plan(AttentionShape shape) {
        AttentionShape.PlanKey key = shape.planKey();
        Plan p = plans.get(key);
        if (p == null) {
            p = build(shape);
            plans.put(key, p);
        }
        return p;
    }

    /**
     * An evicted plan's descriptors and by-value scalars are freed only once no execution queued on the stream can
     * still read them; eviction follows a plan build (tens of ms of host work), so the wait costs little.
     */
    private void retire(Plan plan) {
        dev.sync();
        plan.close();
    }

    /** The pool's workspace, grown when a plan needs more; everything runs on one stream, so reuse is ordered. */
    private long workspaceFor(long bytes) {
        if (bytes <= 0) {
            return 0;
        }
        if (bytes > workspaceBytes) {
            if (workspace >= 0) {
                dev.pool.free(workspace);
                workspace = -1;
                workspaceBytes = 0;
            }
            workspace = dev.pool.allocate(bytes, "cuDNN attention workspace");
            workspaceBytes = bytes;
        }
        return dev.arg(workspace).value();
    }

    private Plan build(AttentionShape shape) {
        long t0 = System.nanoTime();
        List<String> rejected = new ArrayList<>();
        for (Variant variant : variants()) {
            Descriptors graphDescs = new Descriptors();
            Plan plan = null;
            try {
                cudnnBackendDescriptor_t graph = buildGraph(graphDescs, shape, variant);
                plan = choosePlan(graphDescs, graph, shape, variant, rejected, t0);
            } catch (RuntimeException e) {
                rejected.add(variant + ": " + e.getMessage());
            } finally {
                if (plan == null) {
                    graphDescs.close();
                }
            }
            if (plan != null) {
                return plan;
            }
        }
        throw new IllegalStateException("cuDNN offers no engine for causal attention " + shape + " (cuDNN "
                + version() + "); tried: " + String.join(" | ", rejected) + "; " + DEBUG_HINT);
    }

    private cudnnBackendDescriptor_t buildGraph(Descriptors d, AttentionShape s, Variant variant) {
        long[] score = s.scoreDims();
        long[] scoreStrides = s.scoreStrides();
        long[] stat = s.rowStatDims();
        long[] statStrides = s.rowStatStrides();
        long[] scalar = {1, 1, 1, 1};

        cudnnBackendDescriptor_t q = d.tensor(UID_Q, CUDNN_DATA_BFLOAT16, s.qDims(), s.qStrides(), false, false);
        cudnnBackendDescriptor_t kt = d.tensor(UID_K, CUDNN_DATA_BFLOAT16, s.kTransposedDims(), s.kTransposedStrides(), false, false);
        cudnnBackendDescriptor_t v = d.tensor(UID_V, CUDNN_DATA_BFLOAT16, s.vDims(), s.vStrides(), false, false);
        cudnnBackendDescriptor_t o = d.tensor(UID_O, CUDNN_DATA_BFLOAT16, s.outDims(), s.outStrides(), false, false);
        cudnnBackendDescriptor_t scale = d.tensor(UID_SCALE, CUDNN_DATA_FLOAT, scalar, scalar, false, true);
        cudnnBackendDescriptor_t negInf = d.tensor(UID_NEG_INF, CUDNN_DATA_FLOAT, scalar, scalar, false, true);

        long uid = 100;
        List<cudnnBackendDescriptor_t> ops = new ArrayList<>();
        cudnnBackendDescriptor_t s1 = d.tensor(uid++, CUDNN_DATA_FLOAT, score, scoreStrides, true, false);
        ops.add(d.matmul(q, kt, s1));
        cudnnBackendDescriptor_t s2 = d.tensor(uid++, CUDNN_DATA_FLOAT, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, -1, s1, scale, null, s2));

        // the mask, as cudnn-frontend's CompositeDiagonalBandMaskNode builds a right bound of 0, bottom-right
        cudnnBackendDescriptor_t row = d.tensor(uid++, CUDNN_DATA_INT32, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, 2, s2, null, null, row));
        cudnnBackendDescriptor_t col = d.tensor(uid++, CUDNN_DATA_INT32, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, 3, s2, null, null, col));
        cudnnBackendDescriptor_t shifted;
        if (variant.singleOffset) {
            cudnnBackendDescriptor_t offset = d.tensor(UID_OFFSET, CUDNN_DATA_INT32, scalar, scalar, false, true);
            shifted = d.tensor(uid++, CUDNN_DATA_INT32, score, scoreStrides, true, false);
            ops.add(d.pointwise(CUDNN_POINTWISE_ADD, CUDNN_DATA_INT32, -1, row, offset, null, shifted));
        } else {
            cudnnBackendDescriptor_t sKv = d.tensor(UID_S_KV, CUDNN_DATA_INT32, scalar, scalar, false, true);
            cudnnBackendDescriptor_t sQ = d.tensor(UID_S_Q, CUDNN_DATA_INT32, scalar, scalar, false, true);
            cudnnBackendDescriptor_t plusKv = d.tensor(uid++, CUDNN_DATA_INT32, score, scoreStrides, true, false);
            ops.add(d.pointwise(CUDNN_POINTWISE_ADD, CUDNN_DATA_INT32, -1, row, sKv, null, plusKv));
            shifted = d.tensor(uid++, CUDNN_DATA_INT32, score, scoreStrides, true, false);
            ops.add(d.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_INT32, -1, plusKv, sQ, null, shifted));
        }
        cudnnBackendDescriptor_t mask = d.tensor(uid++, CUDNN_DATA_BOOLEAN, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, -1, shifted, col, null, mask));
        cudnnBackendDescriptor_t masked = d.tensor(uid++, CUDNN_DATA_FLOAT, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, -1, s2, negInf, mask, masked));

        // softmax as cudnn-frontend's CompositeSoftmaxNode (pre-9.21)
        cudnnBackendDescriptor_t max = d.tensor(uid++, CUDNN_DATA_FLOAT, stat, statStrides, true, false);
        ops.add(d.reduction(CUDNN_REDUCE_TENSOR_MAX, masked, max));
        cudnnBackendDescriptor_t sub = d.tensor(uid++, CUDNN_DATA_FLOAT, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, -1, masked, max, null, sub));
        cudnnBackendDescriptor_t exp = d.tensor(uid++, CUDNN_DATA_FLOAT, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, -1, sub, null, null, exp));
        cudnnBackendDescriptor_t sum = d.tensor(uid++, CUDNN_DATA_FLOAT, stat, statStrides, true, false);
        ops.add(d.reduction(CUDNN_REDUCE_TENSOR_ADD, exp, sum));
        if (variant.virtualStats) {
            cudnnBackendDescriptor_t log = d.tensor(uid++, CUDNN_DATA_FLOAT, stat, statStrides, true, false);
            ops.add(d.pointwise(CUDNN_POINTWISE_LOG, CUDNN_DATA_FLOAT, -1, sum, null, null, log));
            cudnnBackendDescriptor_t stats = d.tensor(uid++, CUDNN_DATA_FLOAT, stat, statStrides, true, false);
            ops.add(d.pointwise(CUDNN_POINTWISE_ADD, CUDNN_DATA_FLOAT, -1, max, log, null, stats));
        }
        // the backend wants the second matmul's A operand in the I/O type, hence a BF16 virtual P
        cudnnBackendDescriptor_t p = d.tensor(uid++, CUDNN_DATA_BFLOAT16, score, scoreStrides, true, false);
        ops.add(d.pointwise(CUDNN_POINTWISE_DIV, CUDNN_DATA_FLOAT, -1, exp, sum, null, p));
        ops.add(d.matmul(p, v, o));

        cudnnBackendDescriptor_t graph = d.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
        d.setHandle(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle, "OPERATIONGRAPH_HANDLE");
        d.setDescriptors(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, "OPERATIONGRAPH_OPS (" + ops.size() + " ops)",
                ops.toArray(new cudnnBackendDescriptor_t[0]));
        d.finalizeDesc(graph, "operation graph of " + ops.size() + " ops (" + variant + ")");
        return graph;
    }

    /** Heuristics in cudnn-frontend's order; the first engine config that finalizes into a plan wins. */
    private Plan choosePlan(Descriptors graphDescs, cudnnBackendDescriptor_t graph, AttentionShape shape,
                            Variant variant, List<String> rejected, long t0) {
        int[] modes = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_B, CUDNN_HEUR_MODE_FALLBACK};
        String[] names = {"HEUR_MODE_A", "HEUR_MODE_B", "HEUR_MODE_FALLBACK"};
        for (int m = 0; m < modes.length; m++) {
            Descriptors heurDescs = new Descriptors();
            boolean keep = false;
            try {
                cudnnBackendDescriptor_t heur = heurDescs.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics");
                heurDescs.setDescriptors(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, "ENGINEHEUR_OPERATION_GRAPH", graph);
                heurDescs.setInt(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, modes[m], "ENGINEHEUR_MODE");
                heurDescs.finalizeDesc(heur, "engine heuristics " + names[m]);
                int available;
                try (LongPointer count = new LongPointer(1)) {
                    check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                            0, count, (Pointer) null), "count of ENGINEHEUR_RESULTS");
                    available = (int) Math.min(count.get(), MAX_CONFIGS);
                }
                if (available <= 0) {
                    rejected.add(variant + " " + names[m] + ": no engine configs");
                    continue;
                }
                cudnnBackendDescriptor_t[] cfgs = new cudnnBackendDescriptor_t[available];
                for (int i = 0; i < available; i++) {
                    cfgs[i] = heurDescs.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine config");
                }
                int returned;
                try (LongPointer count = new LongPointer(1);
                     PointerPointer<cudnnBackendDescriptor_t> arr = new PointerPointer<>(cfgs)) {
                    check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                            available, count, arr), "ENGINEHEUR_RESULTS");
                    returned = (int) Math.min(count.get(), available);
                }
                for (int i = 0; i < returned; i++) {
                    cudnnBackendDescriptor_t plan = heurDescs.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
                    try {
                        heurDescs.setHandle(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle, "EXECUTION_PLAN_HANDLE");
                        heurDescs.setDescriptors(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, "EXECUTION_PLAN_ENGINE_CONFIG", cfgs[i]);
                        heurDescs.finalizeDesc(plan, "execution plan");
                    } catch (RuntimeException e) {
                        rejected.add(variant + " " + names[m] + " config " + i + " (engine " + engineIndex(cfgs[i]) + "): "
                                + e.getMessage());
                        continue;
                    }
                    long ws = getLong(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, "EXECUTION_PLAN_WORKSPACE_SIZE");
                    PlanInfo info = new PlanInfo(variant, names[m], i, returned, engineIndex(cfgs[i]), ws,
                            (System.nanoTime() - t0) / 1e6, planJson(plan), List.copyOf(rejected));
                    keep = true;
                    return new Plan(shape, variant, plan, info, graphDescs, heurDescs);
                }
            } catch (RuntimeException e) {
                rejected.add(variant + " " + names[m] + ": " + e.getMessage());
            } finally {
                if (!keep) {
                    heurDescs.close();
                }
            }
        }
        return null;
    }

    private static long engineIndex(cudnnBackendDescriptor_t cfg) {
        try (Descriptors tmp = new Descriptors()) {
            cudnnBackendDescriptor_t engine = tmp.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, "engine");
            try (LongPointer count = new LongPointer(1); PointerPointer<cudnnBackendDescriptor_t> arr = new PointerPointer<cudnnBackendDescriptor_t>(1).put(0, engine)) {
                if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, count, arr)
                        != CUDNN_STATUS_SUCCESS) {
                    return -1;
                }
            }
            return getLong(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, "ENGINE_GLOBAL_INDEX");
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private static String planJson(cudnnBackendDescriptor_t plan) {
        int cap = 1 << 16;
        try (BytePointer buf = new BytePointer(cap); LongPointer count = new LongPointer(1)) {
            if (cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, cap, count, buf)
                    != CUDNN_STATUS_SUCCESS) {
                return "";
            }
            return buf.getString();
        }
    }

    private static long getLong(cudnnBackendDescriptor_t desc, int attr, String what) {
        try (LongPointer value = new LongPointer(1); LongPointer count = new LongPointer(1)) {
            check(cudnnBackendGetAttribute(desc, attr, CUDNN_TYPE_INT64, 1, count, value), "cudnnBackendGetAttribute(" + what + ")");
            return value.get();
        }
    }

    /** A finalized plan with everything it references, and the by-value scalars its variant pack points at. */
    private final class Plan implements AutoCloseable {
        final PlanInfo info;
        private final cudnnBackendDescriptor_t plan;
        private final Descriptors graphDescs;
        private final Descriptors heurDescs;
        private final FloatPointer scale;
        private final FloatPointer negInf;
        private final IntPointer sKv;
        private final IntPointer sQ;
        private final IntPointer offset;
        private final long[] uids;

        Plan(AttentionShape shape, Variant variant, cudnnBackendDescriptor_t plan, PlanInfo info, Descriptors graphDescs,
             Descriptors heurDescs) {
            this.plan = plan;
            this.info = info;
            this.graphDescs = graphDescs;
            this.heurDescs = heurDescs;
            this.scale = new FloatPointer(1).put(shape.scale());
            // cudnn-frontend masks with -inf from cuDNN 9.10 on (lowest float before)
            this.negInf = new FloatPointer(1).put(version() < 91000 ? -Float.MAX_VALUE : Float.NEGATIVE_INFINITY);
            this.sKv = new IntPointer(1).put(shape.kvLen());
            this.sQ = new IntPointer(1).put(shape.rows());
            this.offset = new IntPointer(1).put(shape.kvLen() - shape.rows());
            this.uids = variant.singleOffset
                    ? new long[] {UID_Q, UID_K, UID_V, UID_O, UID_SCALE, UID_NEG_INF, UID_OFFSET}
                    : new long[] {UID_Q, UID_K, UID_V, UID_O, UID_SCALE, UID_NEG_INF, UID_S_KV, UID_S_Q};
        }

        void execute(long q, long k, long v, long out, long ws) {
            long[] ptrs = info.variant().singleOffset
                    ? new long[] {q, k, v, out, scale.address(), negInf.address(), offset.address()}
                    : new long[] {q, k, v, out, scale.address(), negInf.address(), sKv.address(), sQ.address()};
            try (Descriptors d = new Descriptors();
                 LongPointer uidArr = new LongPointer(uids);
                 LongPointer ptrArr = new LongPointer(ptrs);
                 LongPointer wsArr = new LongPointer(1).put(ws)) {
                cudnnBackendDescriptor_t pack = d.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack");
                // void* arrays are passed as arrays of 64-bit addresses: device pointers and the by-value host scalars
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, uids.length, uidArr),
                        "cudnnBackendSetAttribute(VARIANT_PACK_UNIQUE_IDS)");
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, ptrs.length, ptrArr),
                        "cudnnBackendSetAttribute(VARIANT_PACK_DATA_POINTERS)");
                check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, wsArr),
                        "cudnnBackendSetAttribute(VARIANT_PACK_WORKSPACE)");
                d.finalizeDesc(pack, "variant pack");
                check(cudnnBackendExecute(handle, plan, pack), "cudnnBackendExecute (" + info.variant() + ", engine "
                        + info.engineGlobalIndex() + ")");
            }
        }

        @Override
        public void close() {
            heurDescs.close();
            graphDescs.close();
            scale.close();
            negInf.close();
            sKv.close();
            sQ.close();
            offset.close();
        }
    }

    /** Backend descriptors created for one purpose, destroyed together (newest first) on close. */
    private static final class Descriptors implements AutoCloseable {
        private final List<cudnnBackendDescriptor_t> all = new ArrayList<>();

        cudnnBackendDescriptor_t create(int type, String what) {
            cudnnBackendDescriptor_t d = new cudnnBackendDescriptor_t();
            check(cudnnBackendCreateDescriptor(type, d), "cudnnBackendCreateDescriptor(" + what + ")");
            all.add(d);
            return d;
        }

        void finalizeDesc(cudnnBackendDescriptor_t d, String what) {
            check(cudnnBackendFinalize(d), "cudnnBackendFinalize(" + what + ")");
        }

        void setLongs(cudnnBackendDescriptor_t d, int attr, String what, long... values) {
            try (LongPointer p = new LongPointer(values)) {
                check(cudnnBackendSetAttribute(d, attr, CUDNN_TYPE_INT64, values.length, p), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        /** Enum-typed attributes (data type, pointwise mode, heuristic mode...) are C enums: 32-bit. */
        void setInt(cudnnBackendDescriptor_t d, int attr, int type, int value, String what) {
            try (IntPointer p = new IntPointer(1).put(value)) {
                check(cudnnBackendSetAttribute(d, attr, type, 1, p), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        /** CUDNN_TYPE_BOOLEAN is a C bool: one byte. */
        void setBool(cudnnBackendDescriptor_t d, int attr, boolean value, String what) {
            try (BytePointer p = new BytePointer(1).put((byte) (value ? 1 : 0))) {
                check(cudnnBackendSetAttribute(d, attr, CUDNN_TYPE_BOOLEAN, 1, p), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void setDescriptors(cudnnBackendDescriptor_t d, int attr, String what, cudnnBackendDescriptor_t... values) {
            try (PointerPointer<cudnnBackendDescriptor_t> p = new PointerPointer<>(values)) {
                check(cudnnBackendSetAttribute(d, attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, values.length, p),
                        "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void setHandle(cudnnBackendDescriptor_t d, int attr, cudnnContext handle, String what) {
            // an array of one handle: new PointerPointer<>(handle) would be JavaCPP's cast constructor, a
            // cudnnHandle_t* aimed at the handle itself (that crashed cuDNN on the H200)
            try (PointerPointer<cudnnContext> p = new PointerPointer<cudnnContext>(1).put(0, handle)) {
                check(cudnnBackendSetAttribute(d, attr, CUDNN_TYPE_HANDLE, 1, p), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        cudnnBackendDescriptor_t tensor(long uid, int dataType, long[] dims, long[] strides, boolean isVirtual, boolean byValue) {
            cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor " + uid);
            String name = "tensor " + uid + " ";
            setInt(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, dataType, name + "DATA_TYPE");
            setLongs(t, CUDNN_ATTR_TENSOR_DIMENSIONS, name + "DIMENSIONS", dims);
            setLongs(t, CUDNN_ATTR_TENSOR_STRIDES, name + "STRIDES", strides);
            setLongs(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, name + "UNIQUE_ID", uid);
            setLongs(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, name + "BYTE_ALIGNMENT", AttentionShape.ALIGN_BYTES);
            setBool(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, isVirtual, name + "IS_VIRTUAL");
            if (byValue) {
                setBool(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, true, name + "IS_BY_VALUE");
            }
            finalizeDesc(t, "tensor " + uid + " dims " + java.util.Arrays.toString(dims) + " strides "
                    + java.util.Arrays.toString(strides));
            return t;
        }

        cudnnBackendDescriptor_t matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c) {
            cudnnBackendDescriptor_t mm = create(CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
            setInt(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT, "MATMUL_COMP_TYPE");
            finalizeDesc(mm, "matmul descriptor");
            cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul operation");
            setDescriptors(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, "OPERATION_MATMUL_ADESC", a);
            setDescriptors(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, "OPERATION_MATMUL_BDESC", b);
            setDescriptors(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, "OPERATION_MATMUL_CDESC", c);
            setDescriptors(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, "OPERATION_MATMUL_DESC", mm);
            finalizeDesc(op, "matmul operation");
            return op;
        }

        /** A pointwise op; {@code axis} >= 0 only for GEN_INDEX (the frontend sets it for no other mode). */
        cudnnBackendDescriptor_t pointwise(int mode, int mathPrec, long axis, cudnnBackendDescriptor_t x,
                                           cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y) {
            cudnnBackendDescriptor_t pw = create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
            setInt(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, mode, "POINTWISE_MODE " + mode);
            setInt(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, mathPrec, "POINTWISE_MATH_PREC");
            if (axis >= 0) {
                setLongs(pw, CUDNN_ATTR_POINTWISE_AXIS, "POINTWISE_AXIS", axis);
            }
            finalizeDesc(pw, "pointwise descriptor mode " + mode);
            cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise operation");
            setDescriptors(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, "OPERATION_POINTWISE_PW_DESCRIPTOR", pw);
            setDescriptors(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, "OPERATION_POINTWISE_XDESC", x);
            if (b != null) {
                setDescriptors(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, "OPERATION_POINTWISE_BDESC", b);
            }
            if (t != null) {
                setDescriptors(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, "OPERATION_POINTWISE_TDESC", t);
            }
            setDescriptors(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, "OPERATION_POINTWISE_YDESC", y);
            finalizeDesc(op, "pointwise operation mode " + mode);
            return op;
        }

        cudnnBackendDescriptor_t reduction(int operator, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
            cudnnBackendDescriptor_t r = create(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
            setInt(r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, operator, "REDUCTION_OPERATOR");
            setInt(r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT, "REDUCTION_COMP_TYPE");
            finalizeDesc(r, "reduction descriptor");
            cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction operation");
            setDescriptors(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, "OPERATION_REDUCTION_DESC", r);
            setDescriptors(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, "OPERATION_REDUCTION_XDESC", x);
            setDescriptors(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, "OPERATION_REDUCTION_YDESC", y);
            finalizeDesc(op, "reduction operation");
            return op;
        }

        @Override
        public void close() {
            for (int i = all.size() - 1; i >= 0; i--) {
                cudnnBackendDestroyDescriptor(all.get(i));
            }
            all.clear();
        }
    }

    static void check(int status, String what) {
        if (status != CUDNN_STATUS_SUCCESS) {
            String last;
            try (BytePointer buf = new BytePointer(4096)) {
                cudnnGetLastErrorString(buf, 4096);
                last = buf.getString().trim();
            }
            throw new IllegalStateException(what + " failed: cuDNN status " + status + " ("
                    + cudnnGetErrorString(status).getString() + ")" + (last.isEmpty() ? "" : ": " + last));
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("cuDNN attention used after close");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // a plan's descriptors and by-value scalars must outlive any execution still queued on the stream
        dev.sync();
        plans.close();
        if (workspace >= 0) {
            dev.pool.free(workspace);
            workspace = -1;
        }
        if (handle != null) {
            cudnnDestroy(handle);
            handle = null;
        }
    }
}
