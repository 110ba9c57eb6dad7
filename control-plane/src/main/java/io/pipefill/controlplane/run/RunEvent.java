package io.pipefill.controlplane.run;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * Something that happened to a run, in order: STATE (a state change), PROGRESS (a prompt chunk through the
 * last stage), TOKEN (a generated token, as the last stage picked it), STAGE (a rank's report, e.g. its shard loaded or chunking agreed) or ERROR.
 */
public record RunEvent(long id, UUID runId, Instant at, String kind, Map<String, Object> detail) {
}
