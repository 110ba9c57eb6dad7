package io.pipefill.controlplane.run;

/**
 * How far a run's prompt has got: chunks (and prompt tokens) through the last stage, from the latest
 * PROGRESS event. With dynamic chunking {@code chunks} is the count the ranks agreed on.
 */
public record RunProgress(int chunksDone, int chunks, int tokensDone, int promptTokens) {
}
