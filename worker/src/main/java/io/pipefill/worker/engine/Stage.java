package io.pipefill.worker.engine;

import io.pipefill.model.ChunkSchedule;
import java.util.List;

/**
 * One pipeline stage on some device: a contiguous range of decoder layers with their KV cache, plus the
 * embedding (first stage) and the final norm and lm_head (last stage).
 */
public interface Stage extends AutoCloseable {

    /** Hidden-state buffer for up to {@code maxTokens} positions, living wherever the backend computes. */
    Activations allocate(int maxTokens);

    /** Writes the embeddings of {@code tokens[from, from + n)} into rows [0, n) of {@code out}. */
    void embed(int[] tokens, int from, int n, Activations out);

    /**
     * Runs this stage's layers over rows [0, n) of {@code x}, which hold positions [position, position + n);
     * attends to every earlier position in the KV cache and appends the chunk's keys and values.
     */
    void forward(Activations x, int position, int n);

    /**
     * Told once per run, before its clock starts, the chunk schedule of each of its requests, so that per-shape
     * work for those chunks (the CUDA stage's cuDNN attention plans) is done here rather than inside the time to
     * first token. The default has nothing to prepare.
     */
    default void prepare(List<ChunkSchedule> schedules) {
    }

    /** Final norm and lm_head for one row of {@code x}: the vocabulary's logits. */
    float[] logits(Activations x, int row);

    /** Forgets all cached positions so that a new request can start at position 0. */
    void resetCache();

    /** Positions currently in the KV cache. */
    int cachedPositions();

    /** Bytes of weights this stage holds resident. */
    long weightBytes();

    /** Bytes reserved for the KV cache. */
    long kvCacheBytes();

    /** Which attention implementation this stage ran since it was loaded, against the one it was asked for. */
    AttentionUsage.Report attentionUsage();

    @Override
    void close();
}
