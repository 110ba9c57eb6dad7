package io.pipefill.cli;

import io.pipefill.worker.cpu.Blas;
import io.pipefill.worker.cpu.NativeFloats;
import java.util.concurrent.CompletableFuture;

/**
 * How much work two single-threaded compute streams get done at once compared with one: the ceiling for
 * PP2 over PP1 with one thread per rank (vCPUs that share a physical core, memory bandwidth and turbo
 * limits all lower it below 2).
 */
final class HardwareScaling {
    private static final int N = 1024;

    private HardwareScaling() {
    }

    static double twoCoreScaling() throws Exception {
        Blas.setThreads(1);
        gemms(1.0); // warm-up
        double one = gemms(3.0);
        CompletableFuture<Double> other = CompletableFuture.supplyAsync(() -> gemms(3.0));
        double mine = gemms(3.0);
        return (mine + other.get()) / one;
    }

    /** GEMMs per second of one thread for about {@code seconds}. */
    private static double gemms(double seconds) {
        try (NativeFloats a = new NativeFloats((long) N * N); NativeFloats b = new NativeFloats((long) N * N);
             NativeFloats c = new NativeFloats((long) N * N)) {
            long t0 = System.nanoTime();
            int count = 0;
            while (System.nanoTime() - t0 < seconds * 1e9) {
                Blas.gemm(N, N, N, 1f, a.at(0), N, b.at(0), N, true, 0f, c.at(0), N);
                count++;
            }
            return count / ((System.nanoTime() - t0) / 1e9);
        }
    }
}
