package io.pipefill.controlplane.catalog;

import java.time.Instant;
import java.util.UUID;

/**
 * A model directory the control plane knows: its location (a path every worker host can read) and a
 * summary of its parsed config.json.
 */
public record RegisteredModel(UUID id, String name, String location, String architecture, int layers, int hiddenSize,
                              int attentionHeads, int kvHeads, int vocabSize, int maxPositions, long parameters,
                              long sizeBytes, boolean hasTokenizer, Instant registeredAt) {
}
