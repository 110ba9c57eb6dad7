package io.pipefill.worker.pipeline;

import java.util.List;

/** Where a rank reports: the coordinator's control connection, or an in-process collector. */
public interface PipelineSink {
    void loaded(int rank, long weightBytes, long kvCacheBytes);

    /** Rank 0 reports the chunking all ranks agreed on. */
    void chunking(ChunkingDecision decision);

    /** The last stage's TP rank 0 reports each request's logits and tokens. */
    void result(RequestResult result);

    /** The last stage's TP rank 0 reports each finished prefill chunk, for progress output. */
    default void chunkDone(int request, int chunk, int chunks, int tokensDone, int promptTokens) {
    }

    /** Every rank reports its events when it is done. */
    void timeline(int rank, List<StageEvent> events);
}
