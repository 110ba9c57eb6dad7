package io.pipefill.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.worker.engine.AttentionUsage;

/**
 * The prefill JSON's {@code "attention"}: the implementation requested, the chunks each one actually ran, and
 * every fallback with its reason (tools/gpu-check/check.py copies it into its throughput rows).
 */
final class AttentionUsageJson {
    private AttentionUsageJson() {
    }

    static void write(ObjectNode into, AttentionUsage.Report r) {
        into.put("requested", r.requested());
        ObjectNode used = into.putObject("used");
        r.used().forEach((impl, u) -> used.putObject(impl).put("chunks", u.chunks()).put("tokens", u.tokens())
                .put("layer_calls", u.layerCalls()));
        into.put("fell_back", r.fellBack());
        ArrayNode fallbacks = into.putArray("fallbacks");
        for (AttentionUsage.Fallback f : r.fallbacks()) {
            fallbacks.addObject().put("implementation", f.implementation()).put("reason", f.reason())
                    .put("chunks", f.chunks()).put("first_position", f.firstPosition());
        }
        into.put("fallback_chunks_not_listed", r.fallbackChunksNotListed());
    }
}
