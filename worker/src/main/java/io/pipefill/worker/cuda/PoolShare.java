package io.pipefill.worker.cuda;

/**
 * How much device memory one {@link CudaDevice}'s pool takes. Alone on a GPU it takes 90 % of the free memory
 * (the rest is for the context, cuBLAS and NCCL); N stages of one process on one GPU take 90 % / N each.
 * Plain Java, so that the split is tested without a GPU.
 *
 * <p>The fraction applies to the memory this process could have pooled, free plus what its live pools already
 * hold, not to what is free when a device starts: otherwise the second of two stages would get 45 % of the 55 %
 * the first one left, and the order in which ranks load would decide their sizes.
 */
final class PoolShare {
    /** What all pools of one process on one GPU take together. */
    static final double TOTAL_FRACTION = 0.90;

    private PoolShare() {
    }

    /** The fraction each of {@code stagesOnDevice} stages takes. */
    static double fraction(int stagesOnDevice) {
        if (stagesOnDevice < 1) {
            throw new IllegalArgumentException("stages on one device must be at least 1, got " + stagesOnDevice);
        }
        return TOTAL_FRACTION / stagesOnDevice;
    }

    static void checkFraction(double fraction) {
        if (!(fraction > 0 && fraction <= TOTAL_FRACTION)) {
            throw new IllegalArgumentException("a device pool takes a fraction in (0, " + TOTAL_FRACTION
                    + "] of the device memory, got " + fraction);
        }
    }

    /**
     * Pool bytes for a device starting now: {@code fraction} of ({@code free} + {@code heldByProcess}), never more
     * than is free. {@code heldByProcess}: bytes of this process's pools already allocated on the GPU.
     */
    static long poolBytes(long free, long heldByProcess, double fraction) {
        checkFraction(fraction);
        if (free < 0 || heldByProcess < 0) {
            throw new IllegalArgumentException("free " + free + " and held " + heldByProcess + " bytes must not be negative");
        }
        long want = (long) ((free + (double) heldByProcess) * fraction);
        return Math.min(want, free);
    }
}
