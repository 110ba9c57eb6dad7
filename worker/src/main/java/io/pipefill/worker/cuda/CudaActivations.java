package io.pipefill.worker.cuda;

import io.pipefill.worker.engine.Activations;
import io.pipefill.model.safetensors.DType;

/** Hidden states in BF16 on the device: [maxTokens][width] at {@code offset} in the stage's pool. */
final class CudaActivations implements Activations {
    private final CudaDevice device;
    final long offset;
    private final int maxTokens;
    private final int width;
    private boolean closed;

    CudaActivations(CudaDevice device, int maxTokens, int width) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("activations need at least 1 row, got " + maxTokens);
        }
        this.device = device;
        this.maxTokens = maxTokens;
        this.width = width;
        this.offset = device.pool.allocate((long) maxTokens * width * 2, "activations of " + maxTokens + " rows");
    }

    static CudaActivations of(Activations a) {
        if (a instanceof CudaActivations c) {
            return c;
        }
        throw new IllegalArgumentException("the CUDA backend cannot use activations of " + a.getClass().getSimpleName());
    }

    /** The device whose pool holds these rows: links copy between the pools of several devices. */
    CudaDevice device() {
        return device;
    }

    /** Bytes of {@code rows} rows (BF16). */
    long bytes(int rows) {
        return (long) rows * width * 2;
    }

    void checkRows(int n) {
        if (n < 1 || n > maxTokens) {
            throw new IllegalArgumentException(n + " rows do not fit activations of " + maxTokens + " rows");
        }
    }

    @Override
    public int maxTokens() {
        return maxTokens;
    }

    @Override
    public int width() {
        return width;
    }

    @Override
    public void copyToHost(int rows, float[] dst) {
        checkRows(rows);
        short[] bf = new short[rows * width];
        device.downloadBf16(offset, bf, bf.length);
        for (int i = 0; i < bf.length; i++) {
            dst[i] = DType.bf16ToFloat(bf[i]);
        }
    }

    @Override
    public void copyFromHost(int rows, float[] src) {
        checkRows(rows);
        short[] bf = new short[rows * width];
        for (int i = 0; i < bf.length; i++) {
            bf[i] = DType.floatToBf16(src[i]);
        }
        device.uploadBf16(offset, 0, bf, bf.length);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            device.pool.free(offset);
        }
    }
}
