package io.pipefill.worker.cpu;

import io.pipefill.worker.engine.Activations;

/** Hidden states in native memory, row-major [maxTokens × width]. */
final class CpuActivations implements Activations {
    final NativeFloats data;
    private final int maxTokens;
    private final int width;

    CpuActivations(int maxTokens, int width) {
        this.maxTokens = maxTokens;
        this.width = width;
        this.data = new NativeFloats((long) maxTokens * width);
    }

    static CpuActivations of(Activations a) {
        if (a instanceof CpuActivations c) {
            return c;
        }
        throw new IllegalArgumentException("activations of another backend passed to the CPU backend: " + a.getClass());
    }

    @Override
    public int maxTokens() {
        return maxTokens;
    }

    @Override
    public int width() {
        return width;
    }

    void checkRows(int rows) {
        if (rows < 0 || rows > maxTokens) {
            throw new IllegalArgumentException(rows + " rows do not fit activations of " + maxTokens + " tokens");
        }
    }

    @Override
    public void copyToHost(int rows, float[] dst) {
        checkRows(rows);
        data.get(0, dst, 0, rows * width);
    }

    @Override
    public void copyFromHost(int rows, float[] src) {
        checkRows(rows);
        data.put(0, src, 0, rows * width);
    }

    @Override
    public void close() {
        data.close();
    }
}
