package io.pipefill.worker.engine;

import io.pipefill.model.StageShard;
import java.util.function.Function;

/**
 * The preconditions every {@link Stage} and every entry point that hands tokens to one shares, with their
 * messages: checked here once, before any state changes, so that every backend refuses the same input alike.
 */
public final class StageChecks {
    private StageChecks() {
    }

    /**
     * Refuses a token id outside [0, vocabSize) in {@code tokens[from, from + n)}: it would read past the
     * embedding table. The message names the id, its prompt position and the allowed range.
     */
    public static void tokensInVocabulary(int[] tokens, int from, int n, int vocabSize) {
        tokensInVocabulary(tokens, from, n, vocabSize, IllegalArgumentException::new);
    }

    /** {@link #tokensInVocabulary(int[], int, int, int)} over all of {@code tokens}, with the caller's exception. */
    public static void tokensInVocabulary(int[] tokens, int vocabSize, Function<String, ? extends RuntimeException> error) {
        tokensInVocabulary(tokens, 0, tokens.length, vocabSize, error);
    }

    private static void tokensInVocabulary(int[] tokens, int from, int n, int vocabSize,
                                           Function<String, ? extends RuntimeException> error) {
        for (int i = from; i < from + n; i++) {
            int id = tokens[i];
            if (id < 0 || id >= vocabSize) {
                throw error.apply("token id " + id + " at prompt position " + i + " is outside the vocabulary [0, "
                        + vocabSize + ")");
            }
        }
    }

    /**
     * Refuses a chunk of {@code n} positions at {@code position} that does not continue the {@code cached}
     * positions of the KV cache, or that would run past its {@code capacity}.
     */
    public static void chunkInOrder(int position, int n, int cached, int capacity) {
        if (position != cached) {
            throw new IllegalStateException("chunk at position " + position + " but the KV cache holds " + cached
                    + " positions: chunks must arrive in order");
        }
        if (position + n > capacity) {
            throw new IllegalStateException("positions up to " + (position + n) + " exceed the KV cache capacity "
                    + capacity);
        }
    }

    /** Refuses to embed on a stage without the embedding table (every stage but the first). */
    public static void holdsEmbedding(boolean holds, StageShard shard) {
        if (!holds) {
            throw new IllegalStateException("stage " + shard + " holds no embedding (only the first stage does)");
        }
    }

    /** Refuses logits on a stage without the final norm and lm_head (every stage but the last). */
    public static void holdsHead(boolean holds, StageShard shard) {
        if (!holds) {
            throw new IllegalStateException("stage " + shard + " holds no lm_head (only the last stage does)");
        }
    }
}
