package io.pipefill.model.cost;

/**
 * Bytes one GPU of a stage needs: its weights, the KV cache of its layers for the whole prompt, and the working
 * set of the largest chunk; {@code usableBytes} is what the GPU offers after the runtime's reserve.
 */
public record MemoryEstimate(int stage, long weightBytes, long kvBytes, long activationBytes, long usableBytes,
                             long deviceBytes) {

    public long totalBytes() {
        return weightBytes + kvBytes + activationBytes;
    }

    public boolean fits() {
        return totalBytes() <= usableBytes;
    }

    public String describe() {
        return String.format("stage %d needs %.1f GiB per GPU (weights %.1f, KV cache %.1f, activations %.1f) of %.1f GiB"
                + " usable", stage, gib(totalBytes()), gib(weightBytes), gib(kvBytes), gib(activationBytes), gib(usableBytes));
    }

    public static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }
}
