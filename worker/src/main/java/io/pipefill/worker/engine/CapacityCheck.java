package io.pipefill.worker.engine;

import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.ModelConfig;

/** Refuses a request before any compute when it cannot fit the model's context or the KV-cache budget. */
public final class CapacityCheck {
    private CapacityCheck() {
    }

    /**
     * @param kvBytesPerPosition bytes one position costs in this stage's KV cache
     * @param kvBudgetBytes      the most the KV cache may take
     */
    public static void check(ModelConfig config, int promptTokens, int maxNewTokens, long kvBytesPerPosition,
                             long kvBudgetBytes) {
        long total = (long) promptTokens + maxNewTokens;
        if (total > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("prompt of " + promptTokens + " tokens plus " + maxNewTokens
                    + " new tokens exceeds the model's context of " + config.maxPositionEmbeddings()
                    + " positions (max_position_embeddings)");
        }
        long positions = ChunkingPolicy.kvPositions(promptTokens, maxNewTokens);
        long need = positions * kvBytesPerPosition;
        if (need > kvBudgetBytes) {
            long fits = kvBudgetBytes / kvBytesPerPosition;
            throw new IllegalArgumentException("prompt of " + promptTokens + " tokens (+" + maxNewTokens
                    + " new) needs a KV cache of " + mib(need) + " MiB but the budget is " + mib(kvBudgetBytes)
                    + " MiB (at most " + fits + " positions); raise --kv-budget or shorten the prompt");
        }
    }

    private static long mib(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }
}
