package io.pipefill.worker.engine;

/** Hidden states of up to {@link #maxTokens()} positions, {@link #width()} floats each, owned by a backend. */
public interface Activations extends AutoCloseable {
    int maxTokens();

    int width();

    /** Copies rows [0, rows) to the host, row-major. */
    void copyToHost(int rows, float[] dst);

    /** Overwrites rows [0, rows) from the host, row-major. */
    void copyFromHost(int rows, float[] src);

    @Override
    void close();
}
