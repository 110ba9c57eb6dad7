package io.pipefill.worker.cuda;

import static io.pipefill.worker.cuda.ProbeLines.emit;
import static io.pipefill.worker.cuda.ProbeLines.line;

import io.pipefill.model.safetensors.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * GPU check of {@link CudnnAttention}: run on the GPU host as
 * {@code java -cp 'lib/*' io.pipefill.worker.cuda.CudnnAttentionProbe} with LD_LIBRARY_PATH pointing at the
 * CUDA 13 / cuDNN 9 libraries. Prints one JSON object per line on stdout (cuDNN's own log, when enabled, should
 * go to stderr: CUDNN_LOGDEST_DBG=stderr):
 *
 * <ul>
 *   <li>{@code setup}: library versions, device, start-up time;
 *   <li>{@code correctness}: the cuDNN graph against attention.cu's {@code attention_prefill} on the same device
 *       buffers (random BF16, fixed seed, q inside fused q/k/v rows, K/V caches with capacity beyond kvLen
 *       filled with poison, outputs pre-filled with NaN), plus both against a host double-precision reference on
 *       sampled (row, head) pairs; pass when the cuDNN output has no NaN and rel L2 vs the kernel is <= 1e-2;
 *   <li>{@code timing}: the 8b shape (32 heads, 8 kv heads, headDim 128), 8192-row chunks of a 64K prompt;
 *       {@code timing_old_kernel}: attention_prefill on the first chunk, for the ratio;
 *   <li>{@code plan_cache}: plans built by {@code prepare} serve their chunks without a build; with a bound of 2,
 *       unpinning evicts (and releases) the rest, and an evicted shape is rebuilt and gives the same output; passes
 *       when all three hold;
 *   <li>{@code summary}: exit status 0 only when every correctness case passed.
 * </ul>
 * Every case runs under its own try/catch, so one failure does not hide the others.
 */
public final class CudnnAttentionProbe {
    /** Stop starting timing work after this long, so the probe stays well under a minute. */
    private static final long SOFT_BUDGET_NANOS = 45_000_000_000L;
    private static final double PASS_REL_L2 = 1e-2;
    private static final short BF16_NAN = (short) 0x7FC0;
    private static final long SEED = 20240917L;

    private CudnnAttentionProbe() {
    }

    private record Case(String name, int heads, int kvHeads, int headDim, int pos0, int rows) {
    }

    public static void main(String[] args) {
        long start = System.nanoTime();
        ProbeLines.exitWith(() -> run(start));
    }

    private static int run(long start) {
        Map<String, Object> env = line("environment");
        env.put("how_to_read", "one JSON object per line; 'case' says what it is; correctness lines carry 'pass'; "
                + "the last line is the summary; exit 0 only if every correctness case passed");
        env.put("java", System.getProperty("java.version"));
        env.put("ld_library_path", System.getenv("LD_LIBRARY_PATH"));
        try {
            CudaLibraries.Probe libs = CudaLibraries.probe();
            env.put("libraries_found", libs.found().toString());
            env.put("libraries_missing", libs.missing());
        } catch (Throwable t) {
            env.put("library_probe_error", t.toString());
        }
        env.put("debug_knobs", CudnnAttention.DEBUG_HINT);
        env.put("graph_variant_knob", "-D" + CudnnAttention.VARIANT_PROPERTY + "=FRONTEND,SINGLE_OFFSET,NO_STATS "
                + "(the default order; name one to force it)");
        env.put("graph_variants_requested", System.getProperty(CudnnAttention.VARIANT_PROPERTY, "(default)"));
        emit(env);

        CudaDevice dev;
        CudnnAttention cudnn;
        Map<String, Object> setup = line("setup");
        try {
            long t0 = System.nanoTime();
            Path cubins = Files.createTempDirectory("pipefill-probe-cubin");
            dev = new CudaDevice(0, new CubinCache(cubins), PoolShare.fraction(1));
            setup.put("device_start_ms", ms(System.nanoTime() - t0));
            setup.put("arch", dev.arch);
            setup.put("pool_mib", dev.pool.capacity() >> 20);
            long t1 = System.nanoTime();
            cudnn = new CudnnAttention(dev);
            setup.put("cudnn_handle_ms", ms(System.nanoTime() - t1));
            setup.put("cudnn_version_loaded", CudnnAttention.version());
            setup.put("cudnn_version_presets_built_against", org.bytedeco.cuda.global.cudnn.CUDNN_VERSION);
            setup.put("pass", true);
            emit(setup);
        } catch (Throwable t) {
            setup.put("pass", false);
            setup.putAll(failure(t));
            setup.put("hint", "no GPU work was possible; check LD_LIBRARY_PATH (libcudart.so.13, libnvrtc.so.13, "
                    + "libcublas.so.13, libcudnn.so.9; the presets' libjnicudnn.so also links libcudnn_graph/_ops/_cnn/_adv.so.9, "
                    + "and cuDNN loads libcudnn_engines_*.so.9 from the same directory at run time) and nvidia-smi");
            emit(setup);
            emit(summary(0, 0, 2, start));
            return 2;
        }

        List<Case> cases = List.of(
                new Case("h8_kv2_d128_pos0_0_rows64", 8, 2, 128, 0, 64),
                new Case("h8_kv2_d128_pos0_256_rows128", 8, 2, 128, 256, 128),
                new Case("h32_kv8_d128_pos0_1000_rows300", 32, 8, 128, 1000, 300),
                new Case("h8_kv2_d64_pos0_100_rows77", 8, 2, 64, 100, 77),
                new Case("h32_kv8_d128_pos0_37_rows1", 32, 8, 128, 37, 1));
        int passed = 0;
        for (Case c : cases) {
            Map<String, Object> out = line("correctness");
            out.put("name", c.name());
            try {
                boolean ok = correctness(dev, cudnn, c, out);
                passed += ok ? 1 : 0;
            } catch (Throwable t) {
                out.put("pass", false);
                out.putAll(failure(t));
            }
            emit(out);
        }

        try {
            timing(dev, cudnn, start);
        } catch (Throwable t) {
            Map<String, Object> out = line("timing");
            out.putAll(failure(t));
            emit(out);
        }

        boolean cacheOk;
        Map<String, Object> cacheLine = line("plan_cache");
        try {
            cacheOk = planCache(dev, cacheLine);
        } catch (Throwable t) {
            cacheOk = false;
            cacheLine.put("pass", false);
            cacheLine.putAll(failure(t));
        }
        emit(cacheLine);

        int code = passed == cases.size() && cacheOk ? 0 : 1;
        try {
            cudnn.close();
            dev.close();
        } catch (Throwable t) {
            Map<String, Object> out = line("teardown");
            out.putAll(failure(t));
            emit(out);
        }
        emit(summary(passed, cases.size(), code, start));
        return code;
    }

    private static boolean correctness(CudaDevice dev, CudnnAttention cudnn, Case c, Map<String, Object> out) {
        int capacity = c.pos0() + c.rows() + 64;
        AttentionShape s = AttentionShape.ofStage(c.heads(), c.kvHeads(), c.headDim(), c.rows(), c.pos0(), capacity);
        out.put("shape", s.toString());
        SplittableRandom rnd = new SplittableRandom(SEED + c.name().hashCode());
        short[] q = new short[c.rows() * s.qStride()];
        for (int i = 0; i < q.length; i++) {
            // the k/v columns of the fused rows get values too: a wrong q stride reads them
            q[i] = DType.floatToBf16((float) rnd.nextDouble(-2, 2));
        }
        int cacheLen = c.kvHeads() * capacity * c.headDim();
        short[] k = new short[cacheLen];
        short[] v = new short[cacheLen];
        for (int kh = 0; kh < c.kvHeads(); kh++) {
            for (int j = 0; j < capacity; j++) {
                boolean live = j < s.kvLen();
                for (int i = 0; i < c.headDim(); i++) {
                    int at = (kh * capacity + j) * c.headDim() + i;
                    // poison past kvLen: a key read beyond the chunk dominates the softmax and shows in the error
                    k[at] = DType.floatToBf16(live ? (float) rnd.nextDouble(-2, 2) : 60f);
                    v[at] = DType.floatToBf16(live ? (float) rnd.nextDouble(-1, 1) : 1000f);
                }
            }
        }
        int outLen = c.rows() * s.outStride();
        short[] nan = new short[outLen];
        Arrays.fill(nan, BF16_NAN);

        List<Long> owned = new ArrayList<>();
        try {
            long qOff = alloc(dev, owned, q.length * 2L, "probe q");
            long kOff = alloc(dev, owned, cacheLen * 2L, "probe k cache");
            long vOff = alloc(dev, owned, cacheLen * 2L, "probe v cache");
            long kernelOut = alloc(dev, owned, outLen * 2L, "probe kernel out");
            long cudnnOut = alloc(dev, owned, outLen * 2L, "probe cudnn out");
            dev.uploadBf16(qOff, 0, q, q.length);
            dev.uploadBf16(kOff, 0, k, cacheLen);
            dev.uploadBf16(vOff, 0, v, cacheLen);
            dev.uploadBf16(kernelOut, 0, nan, outLen);
            dev.uploadBf16(cudnnOut, 0, nan, outLen);

            launchKernel(dev, s, qOff, kOff, vOff, kernelOut);
            long t0 = System.nanoTime();
            cudnn.attend(s, dev.arg(qOff).value(), dev.arg(kOff).value(), dev.arg(vOff).value(), dev.arg(cudnnOut).value());
            dev.sync();
            out.put("first_call_ms", ms(System.nanoTime() - t0));
            putPlan(out, cudnn.planInfo(s));

            short[] a = new short[outLen];
            short[] b = new short[outLen];
            dev.downloadBf16(cudnnOut, a, outLen);
            dev.downloadBf16(kernelOut, b, outLen);
            double num = 0;
            double den = 0;
            double maxAbs = 0;
            long nanCudnn = 0;
            long nanKernel = 0;
            for (int r = 0; r < c.rows(); r++) {
                for (int i = 0; i < s.qDim(); i++) {
                    int at = r * s.outStride() + i;
                    float x = DType.bf16ToFloat(a[at]);
                    float y = DType.bf16ToFloat(b[at]);
                    nanCudnn += Float.isNaN(x) ? 1 : 0;
                    nanKernel += Float.isNaN(y) ? 1 : 0;
                    if (Float.isNaN(x) || Float.isNaN(y)) {
                        continue;
                    }
                    double diff = x - y;
                    num += diff * diff;
                    den += (double) y * y;
                    maxAbs = Math.max(maxAbs, Math.abs(diff));
                }
            }
            double rel = Math.sqrt(num / Math.max(den, 1e-30));
            out.put("max_abs_diff_vs_kernel", maxAbs);
            out.put("rel_l2_vs_kernel", rel);
            out.put("nan_in_cudnn_output", nanCudnn);
            out.put("nan_in_kernel_output", nanKernel);
            referenceCheck(s, q, k, v, a, b, rnd, out);
            boolean pass = nanCudnn == 0 && nanKernel == 0 && rel <= PASS_REL_L2;
            out.put("pass", pass);
            out.put("criterion", "no NaN and rel_l2_vs_kernel <= " + PASS_REL_L2);
            return pass;
        } finally {
            owned.forEach(dev.pool::free);
        }
    }

    /** Both outputs against the host reference on sampled (row, head) pairs: says which side is wrong. */
    private static void referenceCheck(AttentionShape s, short[] q, short[] k, short[] v, short[] cudnnOut,
                                       short[] kernelOut, SplittableRandom rnd, Map<String, Object> out) {
        List<Integer> rows = new ArrayList<>(List.of(0, s.rows() / 2, s.rows() - 1));
        for (int i = 0; i < 5; i++) {
            rows.add(rnd.nextInt(s.rows()));
        }
        int[] heads = {0, s.heads() - 1, rnd.nextInt(s.heads())};
        double[] num = new double[2];
        double den = 0;
        for (int r : rows) {
            for (int h : heads) {
                double[] ref = AttentionReference.row(s, q, k, v, r, h);
                for (int i = 0; i < s.headDim(); i++) {
                    int at = r * s.outStride() + h * s.headDim() + i;
                    double dc = DType.bf16ToFloat(cudnnOut[at]) - ref[i];
                    double dk = DType.bf16ToFloat(kernelOut[at]) - ref[i];
                    num[0] += dc * dc;
                    num[1] += dk * dk;
                    den += ref[i] * ref[i];
                }
            }
        }
        out.put("sampled_pairs", rows.size() * heads.length);
        out.put("rel_l2_cudnn_vs_host_reference", Math.sqrt(num[0] / Math.max(den, 1e-30)));
        out.put("rel_l2_kernel_vs_host_reference", Math.sqrt(num[1] / Math.max(den, 1e-30)));
    }

    private static void timing(CudaDevice dev, CudnnAttention cudnn, long start) {
        int heads = 32;
        int kvHeads = 8;
        int headDim = 128;
        int rows = 8192;
        int capacity = 65536;
        int[] pos0s = {0, 8192, 24576, 57344};
        AttentionShape first = AttentionShape.ofStage(heads, kvHeads, headDim, rows, 0, capacity);
        long qElems = (long) rows * first.qStride();
        long cacheElems = (long) kvHeads * capacity * headDim;
        long outElems = (long) rows * first.outStride();
        List<Long> owned = new ArrayList<>();
        try {
            long qOff = alloc(dev, owned, qElems * 2, "timing q");
            long kOff = alloc(dev, owned, cacheElems * 2, "timing k cache");
            long vOff = alloc(dev, owned, cacheElems * 2, "timing v cache");
            long k2Off = alloc(dev, owned, cacheElems * 2, "timing k cache of a second layer");
            long outOff = alloc(dev, owned, outElems * 2, "timing out");
            fill(dev, qOff, rows, first.qStride(), SEED + 1, 2f);
            fill(dev, kOff, (long) kvHeads * capacity, headDim, SEED + 2, 2f);
            fill(dev, vOff, (long) kvHeads * capacity, headDim, SEED + 3, 1f);
            fill(dev, k2Off, (long) kvHeads * capacity, headDim, SEED + 4, 2f);
            dev.sync();
            long q = dev.arg(qOff).value();
            long k = dev.arg(kOff).value();
            long v = dev.arg(vOff).value();
            long o = dev.arg(outOff).value();

            double cudnnFirstChunkMs = Double.NaN;
            for (int pos0 : pos0s) {
                Map<String, Object> out = line("timing");
                if (System.nanoTime() - start > SOFT_BUDGET_NANOS) {
                    out.put("pos0", pos0);
                    out.put("skipped", "soft time budget of " + SOFT_BUDGET_NANOS / 1_000_000_000L + " s reached");
                    emit(out);
                    continue;
                }
                try {
                    AttentionShape s = AttentionShape.ofStage(heads, kvHeads, headDim, rows, pos0, capacity);
                    out.put("shape", s.toString());
                    out.put("pos0", pos0);
                    out.put("rows", rows);
                    out.put("kv_len", s.kvLen());
                    int plansBefore = cudnn.cachedPlans();
                    long t0 = System.nanoTime();
                    cudnn.attend(s, q, k, v, o);
                    dev.sync();
                    out.put("first_call_ms", ms(System.nanoTime() - t0));
                    CudnnAttention.PlanInfo info = cudnn.planInfo(s);
                    out.put("plan_build_ms", info.buildMillis());
                    putPlan(out, info);
                    // another layer: other cache addresses, same shape, so no new plan
                    long t1 = System.nanoTime();
                    cudnn.attend(s, q, dev.arg(k2Off).value(), v, o);
                    dev.sync();
                    out.put("cached_plan_call_ms", ms(System.nanoTime() - t1));
                    out.put("plans_built_by_this_chunk", cudnn.cachedPlans() - plansBefore);
                    double[] times = new double[7];
                    for (int i = 0; i < times.length; i++) {
                        long r0 = System.nanoTime();
                        cudnn.attend(s, q, k, v, o);
                        dev.sync();
                        times[i] = ms(System.nanoTime() - r0);
                    }
                    double median = median(times);
                    out.put("runs", times.length);
                    out.put("median_ms", median);
                    out.put("min_ms", Arrays.stream(times).min().orElse(Double.NaN));
                    out.put("causal_tflop", s.causalFlops() / 1e12);
                    out.put("tflops", s.causalFlops() / (median / 1e3) / 1e12);
                    if (pos0 == 0) {
                        cudnnFirstChunkMs = median;
                    }
                } catch (Throwable t) {
                    out.putAll(failure(t));
                }
                emit(out);
            }

            Map<String, Object> old = line("timing_old_kernel");
            try {
                if (System.nanoTime() - start > SOFT_BUDGET_NANOS) {
                    old.put("skipped", "soft time budget reached");
                } else {
                    AttentionShape s = first;
                    old.put("shape", s.toString());
                    long w0 = System.nanoTime();
                    launchKernel(dev, s, qOff, kOff, vOff, outOff);
                    dev.sync();
                    double warm = ms(System.nanoTime() - w0);
                    // the CUDA-core kernel is slow: fewer runs when one takes seconds
                    int n = warm > 2000 ? 1 : warm > 500 ? 3 : 5;
                    double[] times = new double[n];
                    for (int i = 0; i < n; i++) {
                        long r0 = System.nanoTime();
                        launchKernel(dev, s, qOff, kOff, vOff, outOff);
                        dev.sync();
                        times[i] = ms(System.nanoTime() - r0);
                    }
                    double median = median(times);
                    old.put("warmup_ms", warm);
                    old.put("runs", n);
                    old.put("median_ms", median);
                    old.put("tflops", s.causalFlops() / (median / 1e3) / 1e12);
                    old.put("cudnn_median_ms_same_shape", cudnnFirstChunkMs);
                    old.put("speedup_cudnn_over_kernel", median / cudnnFirstChunkMs);
                }
            } catch (Throwable t) {
                old.putAll(failure(t));
            }
            emit(old);
        } finally {
            owned.forEach(dev.pool::free);
        }
    }

    /**
     * The bounded plan cache on the device, on a cuDNN instance of its own with room for 2 unpinned plans: five chunk
     * shapes prepared (built and pinned), their chunks then build nothing; unpinning them evicts three, whose
     * descriptors are released after a stream sync; the first shape, evicted, is rebuilt and its output compared
     * with the first run's.
     */
    private static boolean planCache(CudaDevice dev, Map<String, Object> out) {
        int heads = 8;
        int kvHeads = 2;
        int headDim = 128;
        int rows = 256;
        int capacity = 2048;
        List<AttentionShape> shapes = new ArrayList<>();
        for (int pos0 = 0; pos0 < 5 * rows; pos0 += rows) {
            shapes.add(AttentionShape.ofStage(heads, kvHeads, headDim, rows, pos0, capacity));
        }
        AttentionShape first = shapes.get(0);
        List<Long> owned = new ArrayList<>();
        try (CudnnAttention c = new CudnnAttention(dev, 2)) {
            long outElems = (long) rows * first.outStride();
            long qOff = alloc(dev, owned, (long) rows * first.qStride() * 2, "plan cache q");
            long kOff = alloc(dev, owned, (long) kvHeads * capacity * headDim * 2, "plan cache k");
            long vOff = alloc(dev, owned, (long) kvHeads * capacity * headDim * 2, "plan cache v");
            long oOff = alloc(dev, owned, outElems * 2, "plan cache out");
            fill(dev, qOff, rows, first.qStride(), SEED + 5, 2f);
            fill(dev, kOff, (long) kvHeads * capacity, headDim, SEED + 6, 2f);
            fill(dev, vOff, (long) kvHeads * capacity, headDim, SEED + 7, 1f);
            dev.sync();
            long q = dev.arg(qOff).value();
            long k = dev.arg(kOff).value();
            long v = dev.arg(vOff).value();
            long o = dev.arg(oOff).value();

            CudnnAttention.Prepared p = c.prepare(shapes);
            out.put("prepared", p.toString());
            int before = c.cachedPlans();
            double[] chunkMs = new double[shapes.size()];
            short[] firstOut = new short[(int) outElems];
            for (int i = 0; i < shapes.size(); i++) {
                long t0 = System.nanoTime();
                c.attend(shapes.get(i), q, k, v, o);
                dev.sync();
                chunkMs[i] = ms(System.nanoTime() - t0);
                if (i == 0) {
                    dev.downloadBf16(oOff, firstOut, firstOut.length);
                }
            }
            int builtByChunks = c.cachedPlans() - before;
            out.put("chunk_call_ms", chunkMs);
            out.put("plans_built_by_the_chunks", builtByChunks);

            c.prepare(List.of());  // unpins all five: three evicted
            int afterUnpin = c.cachedPlans();
            out.put("cached_after_unpinning", afterUnpin);

            short[] again = new short[firstOut.length];
            long t1 = System.nanoTime();
            c.attend(first, q, k, v, o);
            dev.sync();
            out.put("rebuilt_call_ms", ms(System.nanoTime() - t1));
            dev.downloadBf16(oOff, again, again.length);
            double num = 0;
            double den = 0;
            long differingBits = 0;
            for (int i = 0; i < again.length; i++) {
                float a = DType.bf16ToFloat(again[i]);
                float b = DType.bf16ToFloat(firstOut[i]);
                differingBits += again[i] != firstOut[i] ? 1 : 0;
                num += (double) (a - b) * (a - b);
                den += (double) b * b;
            }
            double rel = Math.sqrt(num / Math.max(den, 1e-30));
            out.put("rebuilt_rel_l2_vs_first", rel);
            out.put("rebuilt_values_differing", differingBits);
            boolean pass = p.built() == shapes.size() && builtByChunks == 0 && afterUnpin == 2 && rel <= PASS_REL_L2;
            out.put("pass", pass);
            out.put("criterion", "prepare built all " + shapes.size() + ", the chunks built none, 2 left after unpinning, "
                    + "rebuilt output rel_l2 <= " + PASS_REL_L2);
            return pass;
        } finally {
            owned.forEach(dev.pool::free);
        }
    }

    private static void launchKernel(CudaDevice dev, AttentionShape s, long q, long k, long v, long out) {
        LaunchGeometry.checkAttention(s.heads(), s.kvHeads(), s.headDim());
        int[] grid = LaunchGeometry.attentionGrid(s.rows(), s.heads());
        dev.launch("attention_prefill", grid[0], grid[1], LaunchGeometry.ATTENTION_THREADS, dev.arg(q), dev.arg(k),
                dev.arg(v), dev.arg(out), s.rows(), s.pos0(), s.heads(), s.kvHeads(), s.headDim(), s.capacity(),
                s.qStride(), s.outStride(), s.scale());
    }

    /** Uniform BF16 in [-halfWidth, halfWidth] on the device (random_fill.cu), for buffers too big to upload quickly. */
    private static void fill(CudaDevice dev, long off, long rows, long cols, long seed, float halfWidth) {
        int threads = LaunchGeometry.ELEMENTWISE_THREADS;
        int grid = Math.min(LaunchGeometry.blocks(rows * cols, threads), 65536);
        dev.launch("fill_uniform_bf16", grid, 1, threads, dev.arg(off), rows, cols, cols, 0L, 0L, seed, 0f, halfWidth);
    }

    private static long alloc(CudaDevice dev, List<Long> owned, long bytes, String what) {
        long off = dev.pool.allocate(bytes, what);
        owned.add(off);
        return off;
    }

    private static void putPlan(Map<String, Object> out, CudnnAttention.PlanInfo info) {
        out.put("graph_variant", info.variant().toString());
        out.put("heuristic", info.heuristic());
        out.put("engine_config", info.configIndex() + " of " + info.configCount());
        out.put("engine_global_index", info.engineGlobalIndex());
        out.put("workspace_bytes", info.workspaceBytes());
        out.put("plan_build_ms", info.buildMillis());
        if (!info.rejected().isEmpty()) {
            out.put("rejected_before_this_plan", info.rejected());
        }
        String json = info.json();
        out.put("plan_json", json.length() > 600 ? json.substring(0, 600) + "..." : json);
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static Map<String, Object> failure(Throwable t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("error", String.valueOf(t));
        List<String> causes = new ArrayList<>();
        for (Throwable c = t.getCause(); c != null && causes.size() < 5; c = c.getCause()) {
            causes.add(String.valueOf(c));
        }
        if (!causes.isEmpty()) {
            m.put("causes", causes);
        }
        m.put("at", Arrays.stream(t.getStackTrace()).limit(8).map(String::valueOf).toList());
        m.put("debug_knobs", CudnnAttention.DEBUG_HINT);
        return m;
    }

    private static Map<String, Object> summary(int passed, int cases, int code, long start) {
        Map<String, Object> m = line("summary");
        m.put("correctness_passed", passed);
        m.put("correctness_cases", cases);
        m.put("exit_code", code);
        m.put("wall_s", (System.nanoTime() - start) / 1e9);
        return m;
    }

}
