package io.pipefill.worker.cuda;

import static io.pipefill.worker.cuda.ProbeLines.emit;
import static io.pipefill.worker.cuda.ProbeLines.error;
import static io.pipefill.worker.cuda.ProbeLines.line;

import io.pipefill.worker.comm.InProcessTransport;
import java.util.concurrent.CompletableFuture;
import io.pipefill.model.safetensors.DType;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Handle;
import io.pipefill.worker.comm.TransportException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * GPU check of the device transports: {@code java -cp 'lib/*' io.pipefill.worker.cuda.NcclProbe} on a host with
 * the CUDA 13 libraries and NCCL 2 on LD_LIBRARY_PATH (one GPU is enough). Prints one JSON object per line on
 * stdout, each case in its own try/catch so one failure does not hide the rest:
 *
 * <ul>
 *   <li>NCCL, a one-rank communicator (the id made by ncclGetUniqueId and carried through NcclIds' float
 *       encoding, as it would travel over the rendezvous): grouped self send + receive of known FP32 and BF16
 *       patterns give the exact bytes; all-reduce (sum) over the one rank, in and out of place, gives the exact
 *       values; a grouped receive that no send answers fails within its timeout naming rank 0, through the
 *       watchdog's ncclCommAbort (or NCCL's own refusal, reported as such).</li>
 *   <li>The device-local link: two CudaDevices of one process splitting the memory (PoolShare), rows sent from
 *       one's activations to the other's arrive exactly, two posted sends arrive in FIFO order (whichever side
 *       posts first), and a receive with no sender fails within the timeout naming the peer.</li>
 * </ul>
 *
 * <p>Its devices are CudaDevices as the worker opens them, kernels included, from the worker's default cubin cache
 * (~/.cache/pipefill/cubin, which the GPU check's pipefill steps have filled by the time this probe runs; with a
 * cold cache NVRTC compiles the kernels first, inside the watchdog's time).
 *
 * <p>Exit 0 only if every case passes; 1 otherwise; 2 when the libraries or the device are missing; 3 when the
 * probe's own watchdog stops it (a hang past {@link #HARD_LIMIT_S} s, reported on a line first).
 */
public final class NcclProbe {
    static final double HARD_LIMIT_S = 27;
    private static final Duration NCCL_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration LINK_TIMEOUT = Duration.ofMillis(1500);
    /** Slack past a timeout for the failure to be reported: polling, abort, thread wake-up. */
    private static final double SLACK_S = 3;
    private static final int N = 1 << 16;

    private final long start = System.nanoTime();
    private final List<String> failed = new ArrayList<>();
    private int passed;

    public static void main(String[] args) {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep((long) (HARD_LIMIT_S * 1000));
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("{\"case\":\"probe_watchdog\",\"ok\":false,\"error\":\"the probe did not finish within "
                    + HARD_LIMIT_S + " s: a call hung (the last case line printed is the one after which it stuck)\"}");
            System.out.flush();
            Runtime.getRuntime().halt(3);
        }, "probe-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        ProbeLines.exitWith(() -> new NcclProbe().run());
    }

    private int run() {
        Map<String, Object> head = line("probe");
        head.put("what", "NCCL one-rank communicator (grouped self send/recv, all-reduce sum, NcclLink to itself, "
                + "ncclCommSplit and the TP all-reduce, watchdog abort) and the "
                + "device-local link between two CudaDevices of one process (exact rows, FIFO, timeout naming the "
                + "peer). Exit 0 only if every case passes.");
        head.put("java", System.getProperty("java.version"));
        emit(head);
        List<String> needed = List.of("libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13",
                "libnccl.so.2");
        CudaLibraries.Probe libs = CudaLibraries.probe();
        List<String> missing = needed.stream().filter(so -> !libs.found().containsKey(so)).toList();
        if (!missing.isEmpty()) {
            Map<String, Object> m = line("setup");
            m.put("ok", false);
            m.put("error", "missing libraries " + missing + "; searched " + libs.searched()
                    + ". Put their directories on LD_LIBRARY_PATH (pip's nvidia-nccl-cu13 keeps libnccl.so.2 under "
                    + "site-packages/nvidia/nccl/lib).");
            emit(m);
            return 2;
        }
        ncclCases();
        linkCases();
        int code = failed.isEmpty() && passed > 0 ? 0 : 1;
        Map<String, Object> s = line("summary");
        s.put("ok", code == 0);
        s.put("passed", passed);
        s.put("failed", failed);
        s.put("elapsed_s", round((System.nanoTime() - start) / 1e9));
        s.put("exit", code);
        emit(s);
        return code;
    }

    /** Runs one case: its body fills the line and says whether it passed; a throw fails it with the stack. */
    private interface Body {
        boolean run(Map<String, Object> m) throws Exception;
    }

    private void runCase(String name, Body body) {
        Map<String, Object> m = line(name);
        long t0 = System.nanoTime();
        boolean ok;
        try {
            ok = body.run(m);
        } catch (Throwable t) {
            error(m, t);
            ok = false;
        }
        m.put("ms", round((System.nanoTime() - t0) / 1e6));
        m.put("ok", ok);
        if (ok) {
            passed++;
        } else {
            failed.add(name);
        }
        emit(m);
    }

    // ---- NCCL ----

    private void ncclCases() {
        CudaDevice dev;
        try {
            dev = new CudaDevice(0, CubinCache.defaultCache(), 0.05);
        } catch (Throwable t) {
            Map<String, Object> m = line("nccl_setup");
            m.put("ok", false);
            error(m, t);
            emit(m);
            failed.add("nccl_setup");
            return;
        }
        NcclCommunicator[] comm = {null};
        try {
            runCase("nccl_init_one_rank", m -> {
                m.put("nccl_version", NcclCommunicator.version());
                byte[] id = NcclCommunicator.newUniqueId();
                // the id's trip from rank 0 to another rank as the pipelines make it: a control message
                InProcessTransport.Fabric fabric = new InProcessTransport.Fabric(2, Duration.ofSeconds(5));
                CompletableFuture<byte[]> sent = CompletableFuture.supplyAsync(
                        () -> NcclIds.broadcast(fabric.endpoint(0), 0, new int[] {0, 1}, id));
                byte[] travelled = NcclIds.broadcast(fabric.endpoint(1), 0, new int[] {0, 1}, null);
                sent.join();
                m.put("id_prefix", NcclIds.describe(id));
                m.put("id_survives_control_message", java.util.Arrays.equals(id, travelled));
                comm[0] = new NcclCommunicator(travelled, 1, 0, dev.stream(), NCCL_TIMEOUT);
                return java.util.Arrays.equals(id, travelled);
            });
            if (comm[0] == null) {
                return;
            }
            runCase("nccl_self_sendrecv_fp32", m -> selfSendRecv(dev, comm[0], NcclCommunicator.DType.FP32, m));
            runCase("nccl_self_sendrecv_bf16", m -> selfSendRecv(dev, comm[0], NcclCommunicator.DType.BF16, m));
            runCase("nccl_allreduce_sum_fp32", m -> allReduce(dev, comm[0], NcclCommunicator.DType.FP32, m));
            runCase("nccl_allreduce_sum_bf16", m -> allReduce(dev, comm[0], NcclCommunicator.DType.BF16, m));
            runCase("nccl_argument_checks", m -> {
                String peer = refusal(() -> comm[0].send(1, dev.ptr(0).address(), 1, NcclCommunicator.DType.FP32));
                String count = refusal(() -> comm[0].recv(0, dev.ptr(0).address(), 0, NcclCommunicator.DType.FP32));
                m.put("peer_out_of_range", peer);
                m.put("empty_count", count);
                return peer.contains("rank 1") && count.contains("at least 1");
            });
            runCase("nccl_link_self_receive_held_back_then_grouped_with_the_send", m -> linkSelf(dev, comm[0], m));
            runCase("nccl_split_one_rank_and_device_all_reduce_bf16", m -> splitOneRank(dev, comm[0], m));
            runCase("nccl_close", m -> {
                comm[0].close();
                comm[0] = null;
                return true;
            });
            runCase("nccl_watchdog_aborts_a_receive_nobody_answers", m -> watchdog(dev, m));
        } finally {
            if (comm[0] != null) {
                try {
                    comm[0].close();
                } catch (Throwable ignored) {
                    // reported by the case that left it open
                }
            }
            dev.close();
        }
    }

    private boolean selfSendRecv(CudaDevice dev, NcclCommunicator comm, NcclCommunicator.DType type,
                                 Map<String, Object> m) {
        long bytes = (long) N * type.bytes;
        long src = dev.pool.allocate(bytes, "probe source");
        long dst = dev.pool.allocate(bytes, "probe destination");
        try {
            upload(dev, src, type, false);
            upload(dev, dst, type, true);  // NaN first: a receive that writes nothing fails
            List<Handle> hs = comm.group(List.of(
                    NcclCommunicator.Op.send(0, dev.ptr(src).address(), N, type),
                    NcclCommunicator.Op.recv(0, dev.ptr(dst).address(), N, type)));
            for (Handle h : hs) {
                h.await();
            }
            int wrong = mismatches(dev, dst, type);
            m.put("values", N);
            m.put("mismatched", wrong);
            return wrong == 0;
        } finally {
            dev.pool.free(src);
            dev.pool.free(dst);
        }
    }

    private boolean allReduce(CudaDevice dev, NcclCommunicator comm, NcclCommunicator.DType type, Map<String, Object> m) {
        long bytes = (long) N * type.bytes;
        long src = dev.pool.allocate(bytes, "probe source");
        long dst = dev.pool.allocate(bytes, "probe destination");
        try {
            upload(dev, src, type, false);
            upload(dev, dst, type, true);
            comm.allReduceSum(dev.ptr(src).address(), dev.ptr(dst).address(), N, type).await();
            int outOfPlace = mismatches(dev, dst, type);
            comm.allReduceSum(dev.ptr(src).address(), dev.ptr(src).address(), N, type).await();
            int inPlace = mismatches(dev, src, type);
            m.put("values", N);
            m.put("mismatched_out_of_place", outOfPlace);
            m.put("mismatched_in_place", inPlace);
            return outOfPlace == 0 && inPlace == 0;
        } finally {
            dev.pool.free(src);
            dev.pool.free(dst);
        }
    }

    /**
     * NcclLink on a one-rank communicator, to itself (NCCL allows self send/recv in one group): the receive
     * posted first is held back, the send issues both in one group, the rows arrive exactly. Self traffic is the
     * only NcclLink a single GPU can run; between processes it needs a GPU per rank.
     */
    private boolean linkSelf(CudaDevice dev, NcclCommunicator comm, Map<String, Object> m) {
        int rows = 37;
        int width = 256;
        try (CudaActivations src = new CudaActivations(dev, rows, width);
             CudaActivations dst = new CudaActivations(dev, rows, width)) {
            float[] values = new float[rows * width];
            java.util.Random rnd = new java.util.Random(5);
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) rnd.nextGaussian();
            }
            float[] nan = new float[rows * width];
            java.util.Arrays.fill(nan, Float.NaN);
            src.copyFromHost(rows, values);
            dst.copyFromHost(rows, nan);
            NcclLink link = new NcclLink(comm, true, r -> "rank " + r);
            Handle recv = link.receive(0, dst, rows);
            int heldBack = link.deferredReceives();
            Handle send = link.send(0, src, rows);
            int afterSend = link.deferredReceives();
            recv.await();
            send.await();
            float[] sent = new float[rows * width];
            float[] got = new float[rows * width];
            src.copyToHost(rows, sent);
            dst.copyToHost(rows, got);
            m.put("rows", rows);
            m.put("held_back_before_send", heldBack);
            m.put("held_back_after_send", afterSend);
            boolean exact = java.util.Arrays.equals(sent, got);
            m.put("exact", exact);
            return heldBack == 1 && afterSend == 0 && exact;
        }
    }

    /**
     * ncclCommSplit of the one-rank communicator (color 0) checked against the expected size and rank, then the
     * TP all-reduce CudaStage uses (BF16, in place, after the compute stream): over one rank, the identity.
     */
    private boolean splitOneRank(CudaDevice dev, NcclCommunicator comm, Map<String, Object> m) {
        long bytes = (long) N * 2;
        long buf = dev.pool.allocate(bytes, "probe partial sums");
        long ref = dev.pool.allocate(bytes, "probe reference");
        try (NcclCommunicator tp = comm.split(0, 0, 1, 0, "probe TP group")) {
            String wrong = refusal(() -> comm.split(0, 0, 2, 0, "probe TP group expecting 2"));
            m.put("wrong_expectation_refused", wrong);
            upload(dev, buf, NcclCommunicator.DType.BF16, false);
            upload(dev, ref, NcclCommunicator.DType.BF16, false);
            tp.allReduceSum(dev.arg(buf).value(), dev.arg(buf).value(), N, NcclCommunicator.DType.BF16, dev.stream()).await();
            short[] a = new short[N];
            short[] b = new short[N];
            dev.downloadBf16(buf, a, N);
            dev.downloadBf16(ref, b, N);
            boolean same = java.util.Arrays.equals(a, b);
            m.put("identity_over_one_rank", same);
            return same && wrong.contains("expects rank 0 of 2");
        } finally {
            dev.pool.free(buf);
            dev.pool.free(ref);
        }
    }

    private boolean watchdog(CudaDevice dev, Map<String, Object> m) {
        long dst = dev.pool.allocate(4L * N, "probe destination");
        NcclCommunicator c = new NcclCommunicator(NcclCommunicator.newUniqueId(), 1, 0, dev.stream(), NCCL_TIMEOUT);
        try {
            long t0 = System.nanoTime();
            String error;
            try {
                c.group(List.of(NcclCommunicator.Op.recv(0, dev.ptr(dst).address(), N, NcclCommunicator.DType.FP32))).get(0)
                        .await();
                error = null;
            } catch (TransportException e) {
                error = e.getMessage();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            m.put("timeout_s", NCCL_TIMEOUT.toMillis() / 1e3);
            m.put("failed_after_s", round(s));
            m.put("error", error);
            m.put("aborted", c.aborted());
            m.put("mode", error == null ? "completed?!" : c.aborted() ? "watchdog abort" : "refused by NCCL before waiting");
            return error != null && error.contains("rank 0") && s < NCCL_TIMEOUT.toMillis() / 1e3 + SLACK_S;
        } finally {
            c.close();
            dev.pool.free(dst);
        }
    }

    // ---- device-local link ----

    private void linkCases() {
        CudaDevice[] devs = new CudaDevice[2];
        try {
            runCase("link_two_devices_split_the_memory", m -> {
                double f = PoolShare.fraction(2);
                devs[0] = new CudaDevice(0, CubinCache.defaultCache(), f);
                devs[1] = new CudaDevice(0, CubinCache.defaultCache(), f);
                long a = devs[0].pool.capacity();
                long b = devs[1].pool.capacity();
                m.put("fraction_each", f);
                m.put("pool_mib", List.of(a >> 20, b >> 20));
                // equal shares whatever the order: within 2 % (the first device's context memory is the difference)
                return Math.abs(a - b) <= 0.02 * Math.max(a, b);
            });
            if (devs[1] == null) {
                return;
            }
            linkCase("link_rows_arrive_exactly", devs, (fabric, m) -> {
                int width = 4096;
                int rows = 5;
                try (CudaActivations src = new CudaActivations(devs[0], 8, width);
                     CudaActivations dst = new CudaActivations(devs[1], 8, width)) {
                    float[] want = rowsPattern(rows * width, 1);
                    src.copyFromHost(rows, want);
                    dst.copyFromHost(rows, nanRows(rows * width));
                    ActivationLink a = fabric.endpoint(0);
                    ActivationLink b = fabric.endpoint(1);
                    Handle s = a.send(1, src, rows);
                    Handle r = b.receive(0, dst, rows);
                    r.await();
                    s.await();
                    float[] got = new float[rows * width];
                    dst.copyToHost(rows, got);
                    int wrong = bitMismatches(want, got);
                    m.put("rows", rows);
                    m.put("width", width);
                    m.put("mismatched", wrong);
                    return wrong == 0;
                }
            });
            linkCase("link_fifo_sends_first_then_receives_first", devs, (fabric, m) -> {
                int width = 1024;
                ActivationLink a = fabric.endpoint(0);
                ActivationLink b = fabric.endpoint(1);
                int wrong = 0;
                for (boolean sendsFirst : new boolean[] {true, false}) {
                    try (CudaActivations s1 = new CudaActivations(devs[0], 4, width);
                         CudaActivations s2 = new CudaActivations(devs[0], 4, width);
                         CudaActivations d1 = new CudaActivations(devs[1], 4, width);
                         CudaActivations d2 = new CudaActivations(devs[1], 4, width)) {
                        float[] p1 = rowsPattern(3 * width, 10);
                        float[] p2 = rowsPattern(3 * width, 20);
                        s1.copyFromHost(3, p1);
                        s2.copyFromHost(3, p2);
                        d1.copyFromHost(3, nanRows(3 * width));
                        d2.copyFromHost(3, nanRows(3 * width));
                        List<Handle> hs = new ArrayList<>();
                        if (sendsFirst) {
                            hs.add(a.send(1, s1, 3));
                            hs.add(a.send(1, s2, 3));
                            hs.add(b.receive(0, d1, 3));
                            hs.add(b.receive(0, d2, 3));
                        } else {
                            hs.add(b.receive(0, d1, 3));
                            hs.add(b.receive(0, d2, 3));
                            hs.add(a.send(1, s1, 3));
                            hs.add(a.send(1, s2, 3));
                        }
                        for (int i = hs.size() - 1; i >= 0; i--) {
                            hs.get(i).await();
                        }
                        float[] g1 = new float[3 * width];
                        float[] g2 = new float[3 * width];
                        d1.copyToHost(3, g1);
                        d2.copyToHost(3, g2);
                        int w = bitMismatches(p1, g1) + bitMismatches(p2, g2);
                        m.put(sendsFirst ? "mismatched_sends_first" : "mismatched_receives_first", w);
                        wrong += w;
                    }
                }
                return wrong == 0;
            });
            linkCase("link_receive_without_sender_times_out_naming_the_peer", devs, (fabric, m) -> {
                try (CudaActivations dst = new CudaActivations(devs[1], 2, 256)) {
                    Handle r = fabric.endpoint(1).receive(0, dst, 2);
                    long t0 = System.nanoTime();
                    String error = null;
                    try {
                        r.await();
                    } catch (TransportException e) {
                        error = e.getMessage();
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    double bound = LINK_TIMEOUT.toMillis() / 1e3;
                    m.put("timeout_s", bound);
                    m.put("failed_after_s", round(s));
                    m.put("error", error);
                    return error != null && error.contains("rank 0") && s >= bound * 0.9 && s < bound + SLACK_S;
                }
            });
        } finally {
            for (CudaDevice d : devs) {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    private interface LinkBody {
        boolean run(DeviceLocalLink.Fabric fabric, Map<String, Object> m) throws Exception;
    }

    /** Each case on a fabric of its own, so that a failed case leaves nothing queued for the next. */
    private void linkCase(String name, CudaDevice[] devs, LinkBody body) {
        runCase(name, m -> {
            try (DeviceLocalLink.Fabric fabric = new DeviceLocalLink.Fabric(2, LINK_TIMEOUT)) {
                return body.run(fabric, m);
            }
        });
    }

    // ---- data ----

    /** Values exact in BF16 and distinct per position (within 256 and per row start), offset by {@code seed}. */
    private static float[] rowsPattern(int n, int seed) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = ((i * 37 + seed) % 251) - 125 + (i % 2 == 0 ? 0.5f : 0f);
        }
        return f;
    }

    private static float[] nanRows(int n) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, Float.NaN);
        return f;
    }

    private static int bitMismatches(float[] want, float[] got) {
        int wrong = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                wrong++;
            }
        }
        return wrong;
    }

    private static void upload(CudaDevice dev, long offset, NcclCommunicator.DType type, boolean nan) {
        if (type == NcclCommunicator.DType.FP32) {
            float[] f = nan ? nanRows(N) : fp32Pattern();
            dev.uploadFloats(offset, f, N);
        } else {
            short[] s = new short[N];
            float[] f = nan ? nanRows(N) : fp32Pattern();
            for (int i = 0; i < N; i++) {
                s[i] = nan ? (short) 0x7FC0 : DType.floatToBf16(f[i]);
            }
            dev.uploadBf16(offset, 0, s, N);
        }
    }

    /** Exact in FP32 and in BF16 (at most 8 significant bits), signs mixed. */
    private static float[] fp32Pattern() {
        float[] f = new float[N];
        for (int i = 0; i < N; i++) {
            f[i] = ((i * 13) % 255 - 127) * (i % 3 == 0 ? 0.25f : 1f);
        }
        return f;
    }

    private static int mismatches(CudaDevice dev, long offset, NcclCommunicator.DType type) {
        float[] want = fp32Pattern();
        if (type == NcclCommunicator.DType.FP32) {
            float[] got = new float[N];
            dev.downloadFloats(offset, got, N);
            return bitMismatches(want, got);
        }
        short[] got = new short[N];
        dev.downloadBf16(offset, got, N);
        int wrong = 0;
        for (int i = 0; i < N; i++) {
            if (got[i] != DType.floatToBf16(want[i])) {
                wrong++;
            }
        }
        return wrong;
    }

    private static String refusal(Runnable r) {
        try {
            r.run();
            return "accepted";
        } catch (RuntimeException e) {
            return e.getMessage();
        }
    }

    // ---- output ----

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

}
