package io.pipefill.worker.engine;

/** Told about each finished chunk and decode step, so a long prefill shows its progress. */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {
    };

    default void chunkDone(int index, int chunks, int tokensDone, int promptTokens, double chunkMs) {
    }

    default void tokenGenerated(int index, int token) {
    }
}
