package io.pipefill.worker.cuda;

import static io.pipefill.worker.cuda.ProbeLines.emit;
import static io.pipefill.worker.cuda.ProbeLines.error;
import static io.pipefill.worker.cuda.ProbeLines.line;

import static org.bytedeco.cuda.global.cublas.cublasLtGetCudartVersion;
import static org.bytedeco.cuda.global.cublas.cublasLtGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemsetAsync;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;

import io.pipefill.model.safetensors.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cudart.CUevent_st;

/**
 * GPU check of the cuBLASLt GEMM path: {@code java -cp 'lib/*' io.pipefill.worker.cuda.GemmProbe} on a host
 * with the CUDA 13 libraries on LD_LIBRARY_PATH. Prints one JSON object per line on stdout (setup, each
 * correctness case, the plan-cache check, each timing case, a summary), each case in its own try/catch so
 * one failure does not hide the rest.
 *
 * <p>Correctness: cuBLASLt as {@link CudaDevice#linear} issues it ({@link GemmProbeDevice#linear}) against
 * cublasGemmEx ({@link GemmProbeDevice#linearGemmEx}, the path verified on an H200) on the same device buffers, and both against a float64 host product of the
 * same BF16 inputs; relative L2 at most {@link #TOLERANCE}. Without accumulation C starts as NaN, so an
 * algorithm that reads C although beta = 0 fails. Timing: the 8b-shape's GEMMs, medians of CUDA-event times.
 *
 * <p>Exit 0 only when every correctness case and the plan-cache check pass and no case threw; 1 otherwise; 2
 * when the device could not be set up at all.
 */
public final class GemmProbe {
    static final double TOLERANCE = 1e-2;
    private static final long SEED = 20261128L;
    private static final int WARMUP = 3;
    /** Timed runs per path, in alternating blocks so clock drift hits both paths alike. */
    private static final int BLOCKS = 4;
    private static final int BLOCK_RUNS = 5;
    /** Timing cases start only before this, so the probe ends well inside 40 s even on a slow start. */
    private static final double TIMING_DEADLINE_S = 28;
    private static final int TILE = 1 << 20;
    private static final short BF16_NAN = (short) 0x7FC0;

    private final long start = System.nanoTime();
    private final List<String> failed = new ArrayList<>();
    private final List<String> skipped = new ArrayList<>();
    private int passed;

    private record Timed(String name, int rows, int in, int out, boolean accumulate, boolean floatOutput) {
    }

    /** The 8b-shape preset (hidden 4096, 32/8 heads of 128, intermediate 14336, vocab 128256), one GPU. */
    private static final List<Timed> TIMED = List.of(
            new Timed("qkv", 8192, 4096, 6144, false, false),
            new Timed("qkv", 2048, 4096, 6144, false, false),
            new Timed("o_proj (+= residual)", 8192, 4096, 4096, true, false),
            new Timed("gate_up", 8192, 4096, 28672, false, false),
            new Timed("down (+= residual)", 8192, 14336, 4096, true, false),
            new Timed("lm_head (1 row, fp32 logits)", 1, 4096, 128256, false, true));

    public static void main(String[] args) {
        ProbeLines.exitWith(() -> new GemmProbe().run());
    }

    private int run() {
        Map<String, Object> head = line("probe");
        head.put("what", "cuBLASLt GEMMs (CublasLtMatmul, as CudaDevice.linear calls it) against cublasGemmEx and a"
                + " float64 host product; then 8b-shape timings. rel_l2 = ||x - ref|| / ||ref||, pass at <= " + TOLERANCE
                + ". Exit 0 only if every correctness case and the plan-cache check pass and no case threw.");
        head.put("seed", SEED);
        head.put("java", System.getProperty("java.version"));
        emit(head);

        List<String> needed = List.of("libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13");
        CudaLibraries.Probe libs = CudaLibraries.probe();
        List<String> missing = needed.stream().filter(so -> !libs.found().containsKey(so)).toList();
        if (!missing.isEmpty()) {
            Map<String, Object> m = line("setup");
            m.put("ok", false);
            m.put("error", "missing CUDA libraries " + missing + "; searched " + libs.searched());
            emit(m);
            return 2;
        }
        GemmProbeDevice dev;
        try {
            dev = new GemmProbeDevice(0);
        } catch (Throwable t) {
            Map<String, Object> m = line("setup");
            m.put("ok", false);
            m.put("found", libs.found().toString());
            error(m, t);
            emit(m);
            return 2;
        }
        Integer plansCached = null;
        try {
            setup(dev);
            correctness(dev);
            planCache(dev);
            timing(dev);
            plansCached = dev.lt().plans().size();
        } finally {
            try {
                dev.close();
            } catch (Throwable t) {
                Map<String, Object> m = line("close");
                error(m, t);
                emit(m);
                failed.add("close");
            }
        }
        int code = failed.isEmpty() && passed > 0 ? 0 : 1;
        Map<String, Object> s = line("summary");
        s.put("ok", code == 0);
        s.put("passed", passed);
        s.put("failed", failed);
        s.put("timing_skipped_for_time", skipped);
        s.put("plans_cached", plansCached);
        s.put("elapsed_s", round((System.nanoTime() - start) / 1e9, 2));
        s.put("exit", code);
        emit(s);
        return code;
    }

    private void setup(GemmProbeDevice dev) {
        Map<String, Object> m = line("setup");
        try {
            int[] v = {0};
            CudaDevice.check(cudaRuntimeGetVersion(v), "cudaRuntimeGetVersion");
            m.put("cudart_version", v[0]);
            CudaDevice.check(cudaDriverGetVersion(v), "cudaDriverGetVersion");
            m.put("driver_cuda_version", v[0]);
            m.put("cublaslt_version", cublasLtGetVersion());
            m.put("cublaslt_built_for_cudart", cublasLtGetCudartVersion());
            m.put("arch", dev.arch);
            m.put("pool_mib", dev.pool.capacity() >> 20);
            m.put("workspace_mib", CublasLtMatmul.WORKSPACE_BYTES >> 20);
            m.put("heuristic_candidates_requested", CublasLtMatmul.HEURISTIC_CANDIDATES);
            m.put("ok", true);
        } catch (Throwable t) {
            // versions are information only; the cases below say whether the GEMMs work
            error(m, t);
        }
        emit(m);
    }

    // ------------------------------------------------------------------------------------------ correctness

    private void correctness(GemmProbeDevice dev) {
        int[][] shapes = {{7, 128, 96}, {13, 200, 77}, {300, 768, 2304}, {1, 4096, 1000}};
        for (int[] sh : shapes) {
            int rows = sh[0];
            int in = sh[1];
            int out = sh[2];
            String shapeName = rows + "x" + in + " · " + out + "x" + in + "ᵀ";
            long a = -1;
            long w = -1;
            try {
                SplittableRandom rnd = new SplittableRandom(SEED + 31L * rows + 7L * in + out);
                short[] hostA = randomBf16(rnd, rows * in, 1f);
                short[] hostW = randomBf16(rnd, out * in, 1f);
                double[] product = hostProduct(hostA, hostW, rows, in, out);
                a = dev.pool.allocate(2L * rows * in, "probe A");
                w = dev.pool.allocate(2L * out * in, "probe W");
                dev.uploadBf16(a, 0, hostA, hostA.length);
                dev.uploadBf16(w, 0, hostW, hostW.length);
                for (boolean accumulate : new boolean[] {false, true}) {
                    for (boolean floatOutput : new boolean[] {false, true}) {
                        correctnessCase(dev, rnd, rows, in, out, accumulate, floatOutput, a, w, product);
                    }
                }
            } catch (Throwable t) {
                Map<String, Object> m = line("correctness");
                m.put("shape", shapeName);
                m.put("ok", false);
                error(m, t);
                emit(m);
                failed.add("correctness " + shapeName + " (setup)");
            } finally {
                free(dev, a);
                free(dev, w);
            }
        }
    }

    private void correctnessCase(GemmProbeDevice dev, SplittableRandom rnd, int rows, int in, int out, boolean accumulate,
                                 boolean floatOutput, long a, long w, double[] product) {
        Map<String, Object> m = line("correctness");
        m.put("shape", rows + "x" + in + " · " + out + "x" + in + "ᵀ");
        m.put("accumulate", accumulate);
        m.put("output", floatOutput ? "fp32" : "bf16");
        m.put("c_before", accumulate ? "random" : "NaN (beta = 0 must not read C)");
        String name = "correctness " + m.get("shape") + " " + m.get("output") + (accumulate ? " +=" : "");
        int n = rows * out;
        long c = -1;
        try {
            c = dev.pool.allocate((long) n * (floatOutput ? 4 : 2), "probe C");
            // the initial C, exactly as the device holds it
            double[] before = new double[n];
            short[] cBf16 = null;
            float[] cF32 = null;
            if (floatOutput) {
                cF32 = new float[n];
                for (int i = 0; i < n; i++) {
                    cF32[i] = accumulate ? (float) (rnd.nextDouble() * 4 - 2) : Float.NaN;
                    before[i] = cF32[i];
                }
            } else {
                cBf16 = new short[n];
                for (int i = 0; i < n; i++) {
                    cBf16[i] = accumulate ? DType.floatToBf16((float) (rnd.nextDouble() * 4 - 2)) : BF16_NAN;
                    before[i] = DType.bf16ToFloat(cBf16[i]);
                }
            }
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) {
                ref[i] = (accumulate ? before[i] : 0) + product[i];
            }
            double[] lt = runOnce(dev, false, rows, in, out, accumulate, floatOutput, a, w, c, cBf16, cF32);
            GemmShape shape = GemmShape.of(rows, in, out, accumulate, floatOutput, dev.ptr(a).address(),
                    dev.ptr(w).address(), dev.ptr(c).address());
            m.put("plan", planInfo(dev, shape));
            double[] ex = runOnce(dev, true, rows, in, out, accumulate, floatOutput, a, w, c, cBf16, cF32);
            double ltEx = relL2(lt, ex);
            double ltRef = relL2(lt, ref);
            double exRef = relL2(ex, ref);
            long nonFinite = Arrays.stream(lt).filter(x -> !Double.isFinite(x)).count();
            m.put("rel_l2_lt_vs_gemmex", ltEx);
            m.put("rel_l2_lt_vs_host_fp64", ltRef);
            m.put("rel_l2_gemmex_vs_host_fp64", exRef);
            m.put("max_abs_lt_minus_gemmex", maxAbsDiff(lt, ex));
            m.put("non_finite_lt", nonFinite);
            boolean ok = nonFinite == 0 && ltEx <= TOLERANCE && ltRef <= TOLERANCE;
            m.put("ok", ok);
            tally(ok, name);
        } catch (Throwable t) {
            m.put("ok", false);
            error(m, t);
            failed.add(name);
        } finally {
            free(dev, c);
        }
        emit(m);
    }

    /** Uploads the initial C, runs one GEMM on either path and downloads C as doubles. */
    private static double[] runOnce(GemmProbeDevice dev, boolean gemmEx, int rows, int in, int out, boolean accumulate,
                                    boolean floatOutput, long a, long w, long c, short[] cBf16, float[] cF32) {
        int n = rows * out;
        if (floatOutput) {
            dev.uploadFloats(c, cF32, n);
        } else {
            dev.uploadBf16(c, 0, cBf16, n);
        }
        if (gemmEx) {
            dev.linearGemmEx(rows, in, out, a, w, accumulate, c, floatOutput);
        } else {
            dev.linear(rows, in, out, a, w, accumulate, c, floatOutput);
        }
        dev.sync();
        double[] r = new double[n];
        if (floatOutput) {
            float[] f = new float[n];
            dev.downloadFloats(c, f, n);
            for (int i = 0; i < n; i++) {
                r[i] = f[i];
            }
        } else {
            short[] s = new short[n];
            dev.downloadBf16(c, s, n);
            for (int i = 0; i < n; i++) {
                r[i] = DType.bf16ToFloat(s[i]);
            }
        }
        return r;
    }

    /** A · Wᵀ in float64 from the BF16 values, row-major rows × out. */
    private static double[] hostProduct(short[] a, short[] w, int rows, int in, int out) {
        double[] ad = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            ad[i] = DType.bf16ToFloat(a[i]);
        }
        double[] wd = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            wd[i] = DType.bf16ToFloat(w[i]);
        }
        double[] p = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                int ar = r * in;
                int wr = o * in;
                for (int k = 0; k < in; k++) {
                    sum += ad[ar + k] * wd[wr + k];
                }
                p[r * out + o] = sum;
            }
        }
        return p;
    }

    // ------------------------------------------------------------------------------------------ plan cache

    /**
     * Dynamic chunking in miniature: rows 300 (cached by the correctness cases), 17 (new), 300, 17 must make
     * exactly one plan; and the same inputs through the same cached plan should give the same bits.
     */
    private void planCache(GemmProbeDevice dev) {
        Map<String, Object> m = line("plan_cache");
        long a = -1;
        long w = -1;
        long c = -1;
        int in = 768;
        int out = 2304;
        try {
            SplittableRandom rnd = new SplittableRandom(SEED);
            short[] hostA = randomBf16(rnd, 300 * in, 1f);
            short[] hostW = randomBf16(rnd, out * in, 1f);
            a = dev.pool.allocate(2L * hostA.length, "probe A");
            w = dev.pool.allocate(2L * hostW.length, "probe W");
            c = dev.pool.allocate(2L * 300 * out, "probe C");
            dev.uploadBf16(a, 0, hostA, hostA.length);
            dev.uploadBf16(w, 0, hostW, hostW.length);
            GemmPlans<?> plans = dev.lt().plans();
            int size0 = plans.size();
            long hits0 = plans.hits();
            long misses0 = plans.misses();
            short[] first = new short[300 * out];
            short[] second = new short[300 * out];
            int[] rowSequence = {300, 17, 300, 17};
            for (int i = 0; i < rowSequence.length; i++) {
                dev.linear(rowSequence[i], in, out, a, w, false, c, false);
                if (i == 0) {
                    dev.downloadBf16(c, first, first.length);
                } else if (i == 2) {
                    dev.downloadBf16(c, second, second.length);
                }
            }
            dev.sync();
            long newPlans = plans.size() - size0;
            long hits = plans.hits() - hits0;
            long misses = plans.misses() - misses0;
            m.put("row_sequence", rowSequence);
            m.put("new_plans", newPlans);
            m.put("hits", hits);
            m.put("misses", misses);
            m.put("expected", "new_plans 1, hits 3, misses 1 (the 300-row plan was made by the correctness cases)");
            m.put("bitwise_repeatable", Arrays.equals(first, second));
            m.put("bitwise_note", "information only: a cached plan reruns the same algorithm, so a difference here"
                    + " would mean a non-deterministic kernel, not a wrong one");
            boolean ok = newPlans == 1 && hits == 3 && misses == 1;
            m.put("ok", ok);
            tally(ok, "plan_cache");
        } catch (Throwable t) {
            m.put("ok", false);
            error(m, t);
            failed.add("plan_cache");
        } finally {
            free(dev, a);
            free(dev, w);
            free(dev, c);
        }
        emit(m);
    }

    // ------------------------------------------------------------------------------------------ timing

    private void timing(GemmProbeDevice dev) {
        int runs = BLOCKS * BLOCK_RUNS;
        CUevent_st[] events = new CUevent_st[4 * runs];
        try {
            for (int i = 0; i < events.length; i++) {
                events[i] = new CUevent_st();
                CudaDevice.check(cudaEventCreate(events[i]), "cudaEventCreate");
            }
        } catch (Throwable t) {
            Map<String, Object> m = line("timing");
            m.put("ok", false);
            error(m, t);
            emit(m);
            failed.add("timing (events)");
            destroy(events);
            return;
        }
        try {
            for (Timed t : TIMED) {
                String name = "timing " + t.name() + " " + t.rows() + "x" + t.in() + " · " + t.out() + "x" + t.in() + "ᵀ";
                double elapsed = (System.nanoTime() - start) / 1e9;
                if (elapsed > TIMING_DEADLINE_S) {
                    Map<String, Object> m = line("timing");
                    m.put("name", t.name());
                    m.put("skipped", "probe already at " + round(elapsed, 1) + " s, past its " + TIMING_DEADLINE_S
                            + " s timing deadline");
                    emit(m);
                    skipped.add(name);
                    continue;
                }
                timingCase(dev, t, name, events);
            }
        } finally {
            destroy(events);
        }
    }

    private void timingCase(GemmProbeDevice dev, Timed t, String name, CUevent_st[] events) {
        Map<String, Object> m = line("timing");
        m.put("name", t.name());
        long a = -1;
        long w = -1;
        long c = -1;
        try {
            int elt = t.floatOutput() ? 4 : 2;
            a = dev.pool.allocate(2L * t.rows() * t.in(), "probe A");
            w = dev.pool.allocate(2L * t.out() * t.in(), "probe W");
            c = dev.pool.allocate((long) elt * t.rows() * t.out(), "probe C");
            SplittableRandom rnd = new SplittableRandom(SEED + t.rows() + t.out());
            // random data, not zeros: tensor-core power and so clocks depend on the bits
            fillRandomBf16(dev, rnd, a, (long) t.rows() * t.in());
            fillRandomBf16(dev, rnd, w, (long) t.out() * t.in());
            CudaDevice.check(cudaMemsetAsync(dev.ptr(c), 0, (long) elt * t.rows() * t.out(), dev.stream()), "cudaMemsetAsync");
            dev.sync();
            GemmShape shape = GemmShape.of(t.rows(), t.in(), t.out(), t.accumulate(), t.floatOutput(),
                    dev.ptr(a).address(), dev.ptr(w).address(), dev.ptr(c).address());
            m.put("shape", shape.describe());
            boolean cachedBefore = dev.lt().info(shape) != null;

            final long fa = a;
            final long fw = w;
            final long fc = c;
            Runnable lt = () -> dev.linear(t.rows(), t.in(), t.out(), fa, fw, t.accumulate(), fc, t.floatOutput());
            Runnable ex = () -> dev.linearGemmEx(t.rows(), t.in(), t.out(), fa, fw, t.accumulate(), fc, t.floatOutput());

            long t0 = System.nanoTime();
            lt.run();
            long ltFirst = System.nanoTime() - t0;
            dev.sync();
            t0 = System.nanoTime();
            lt.run();
            long ltCached = System.nanoTime() - t0;
            dev.sync();
            t0 = System.nanoTime();
            ex.run();
            long exFirst = System.nanoTime() - t0;
            dev.sync();
            for (int i = 0; i < WARMUP; i++) {
                lt.run();
                ex.run();
            }
            dev.sync();

            int runs = BLOCKS * BLOCK_RUNS;
            int e = 0;
            int[] ltAt = new int[runs];
            int[] exAt = new int[runs];
            int li = 0;
            int xi = 0;
            for (int b = 0; b < BLOCKS; b++) {
                for (int r = 0; r < BLOCK_RUNS; r++) {
                    ltAt[li++] = e;
                    e = timeOne(dev, lt, events, e);
                }
                for (int r = 0; r < BLOCK_RUNS; r++) {
                    exAt[xi++] = e;
                    e = timeOne(dev, ex, events, e);
                }
            }
            dev.sync();
            double[] ltMs = elapsed(events, ltAt);
            double[] exMs = elapsed(events, exAt);
            double ltMed = median(ltMs);
            double exMed = median(exMs);
            m.put("runs_each", runs);
            m.put("lt_median_ms", round(ltMed, 4));
            m.put("gemmex_median_ms", round(exMed, 4));
            m.put("lt_min_ms", round(Arrays.stream(ltMs).min().orElse(Double.NaN), 4));
            m.put("gemmex_min_ms", round(Arrays.stream(exMs).min().orElse(Double.NaN), 4));
            m.put("lt_tflops", round(shape.flops() / (ltMed * 1e-3) / 1e12, 1));
            m.put("gemmex_tflops", round(shape.flops() / (exMed * 1e-3) / 1e12, 1));
            m.put("lt_speedup_vs_gemmex", round(exMed / ltMed, 3));
            // the 1-row lm_head is a GEMV: bandwidth, not FLOP/s, is its measure (H200: ~4.8 TB/s peak)
            m.put("lt_min_traffic_gbps", round(shape.minBytes() / (ltMed * 1e-3) / 1e9, 0));
            m.put("gemmex_min_traffic_gbps", round(shape.minBytes() / (exMed * 1e-3) / 1e9, 0));
            CublasLtMatmul.PlanInfo info = dev.lt().info(shape);
            m.put("plan_cached_before", cachedBefore);
            m.put("heuristic_ms", info == null ? null : round(info.heuristicNanos() / 1e6, 3));
            m.put("lt_first_call_host_ms", round(ltFirst / 1e6, 3));
            m.put("lt_cached_call_host_ms", round(ltCached / 1e6, 3));
            m.put("gemmex_first_call_host_ms", round(exFirst / 1e6, 3));
            m.put("host_ms_note", "host time to enqueue one call; the first includes plan creation (heuristic_ms)"
                    + " and any lazy kernel-module loading, the cached one only the lookup and launch");
            m.put("plan", planInfo(info));
            m.put("ok", true);
        } catch (Throwable x) {
            m.put("ok", false);
            error(m, x);
            failed.add(name);
        } finally {
            free(dev, a);
            free(dev, w);
            free(dev, c);
        }
        emit(m);
    }

    private static int timeOne(GemmProbeDevice dev, Runnable gemm, CUevent_st[] events, int e) {
        CudaDevice.check(cudaEventRecord(events[e], dev.stream()), "cudaEventRecord");
        gemm.run();
        CudaDevice.check(cudaEventRecord(events[e + 1], dev.stream()), "cudaEventRecord");
        return e + 2;
    }

    private static double[] elapsed(CUevent_st[] events, int[] at) {
        double[] ms = new double[at.length];
        float[] f = {0f};
        for (int i = 0; i < at.length; i++) {
            CudaDevice.check(cudaEventElapsedTime(f, events[at[i]], events[at[i] + 1]), "cudaEventElapsedTime");
            ms[i] = f[0];
        }
        return ms;
    }

    private static void destroy(CUevent_st[] events) {
        for (CUevent_st e : events) {
            if (e != null && !e.isNull()) {
                cudaEventDestroy(e);
            }
        }
    }

    /** Uploads one random tile, then doubles it on the device: random-looking data without a host copy of a GiB. */
    private static void fillRandomBf16(GemmProbeDevice dev, SplittableRandom rnd, long offset, long elements) {
        int first = (int) Math.min(elements, TILE);
        short[] tile = randomBf16(rnd, first, 1f);
        dev.uploadBf16(offset, 0, tile, first);
        long done = first;
        while (done < elements) {
            long n = Math.min(done, elements - done);
            CudaDevice.check(cudaMemcpyAsync(dev.ptr(offset + 2 * done), dev.ptr(offset), 2 * n, cudaMemcpyDeviceToDevice,
                    dev.stream()), "cudaMemcpyAsync device to device");
            done += n;
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static short[] randomBf16(SplittableRandom rnd, int n, float scale) {
        short[] s = new short[n];
        for (int i = 0; i < n; i++) {
            s[i] = DType.floatToBf16((float) ((rnd.nextDouble() * 2 - 1) * scale));
        }
        return s;
    }

    static double relL2(double[] x, double[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < x.length; i++) {
            double d = x[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(num / den);
    }

    private static double maxAbsDiff(double[] x, double[] y) {
        double m = 0;
        for (int i = 0; i < x.length; i++) {
            double d = Math.abs(x[i] - y[i]);
            // NaN must show, not vanish in Math.max's comparison
            m = Double.isNaN(d) ? Double.NaN : Double.isNaN(m) ? m : Math.max(m, d);
        }
        return m;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static Object planInfo(GemmProbeDevice dev, GemmShape shape) {
        return planInfo(dev.lt().info(shape));
    }

    private static Object planInfo(CublasLtMatmul.PlanInfo p) {
        if (p == null) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("candidates", p.candidates());
        m.put("chosen", p.chosen());
        m.put("algo_workspace_bytes", p.chosenWorkspaceBytes());
        m.put("waves", round(p.wavesCount(), 3));
        m.put("heuristic_ms", round(p.heuristicNanos() / 1e6, 3));
        m.put("rejected", p.rejected());
        return m;
    }

    private void tally(boolean ok, String name) {
        if (ok) {
            passed++;
        } else {
            failed.add(name);
        }
    }

    private static void free(GemmProbeDevice dev, long offset) {
        if (offset >= 0) {
            try {
                dev.pool.free(offset);
            } catch (RuntimeException ignored) {
                // bookkeeping only; the pool goes with the device
            }
        }
    }

    private static double round(double v, int digits) {
        if (!Double.isFinite(v)) {
            return v;
        }
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

}
