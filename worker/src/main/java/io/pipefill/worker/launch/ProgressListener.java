package io.pipefill.worker.launch;

/** Told about each finished chunk, so a long prefill shows its progress. */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {
    };

    default void chunkDone(int index, int chunks, int tokensDone, int promptTokens, double chunkMs) {
    }
}
