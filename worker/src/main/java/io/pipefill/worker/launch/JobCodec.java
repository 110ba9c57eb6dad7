package io.pipefill.worker.launch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.model.ModelDirectory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The pipeline spec as JSON, sent by the coordinator to every worker. */
final class JobCodec {
    private JobCodec() {
    }

    static ObjectNode encode(PipelineSpec spec) {
        ObjectNode o = ControlChannel.JSON.createObjectNode();
        o.put("model", spec.modelDir());
        o.put("pp", spec.topology().pp());
        o.put("tp", spec.topology().tp());
        o.put("partition", spec.topology().partition().toString());
        o.put("chunk", spec.chunk());
        o.put("dynamic", spec.dynamic());
        o.put("sigma", spec.sigma());
        if (spec.givenFit() != null) {
            o.putArray("fit").add(spec.givenFit().a()).add(spec.givenFit().b()).add(spec.givenFit().c());
        }
        if (spec.chunkSchedule() != null) {
            ArrayNode sched = o.putArray("chunkSchedule");
            spec.chunkSchedule().forEach(sched::add);
        }
        o.put("threads", spec.threadsPerRank());
        o.put("peerTimeoutMs", spec.peerTimeout().toMillis());
        ArrayNode reqs = o.putArray("requests");
        for (PipelineSpec.Request r : spec.requests()) {
            ObjectNode n = reqs.addObject();
            ArrayNode t = n.putArray("tokens");
            for (int id : r.tokens()) {
                t.add(id);
            }
            n.put("maxNewTokens", r.maxNewTokens());
        }
        return o;
    }

    static PipelineSpec decode(JsonNode o) {
        String model = o.get("model").asText();
        ModelConfig c = ModelDirectory.open(Path.of(model)).config();
        Topology topo = Topology.of(c, o.get("pp").asInt(), o.get("tp").asInt(), o.get("partition").asText());
        LatencyFit fit = null;
        if (o.hasNonNull("fit")) {
            JsonNode f = o.get("fit");
            fit = new LatencyFit(f.get(0).asDouble(), f.get(1).asDouble(), f.get(2).asDouble());
        }
        List<PipelineSpec.Request> reqs = new ArrayList<>();
        for (JsonNode r : o.get("requests")) {
            int[] tokens = new int[r.get("tokens").size()];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = r.get("tokens").get(i).asInt();
            }
            reqs.add(new PipelineSpec.Request(tokens, r.get("maxNewTokens").asInt()));
        }
        List<Integer> schedule = null;
        if (o.hasNonNull("chunkSchedule")) {
            schedule = new ArrayList<>();
            for (JsonNode n : o.get("chunkSchedule")) {
                schedule.add(n.asInt());
            }
        }
        return new PipelineSpec(model, topo, o.get("chunk").asInt(), o.get("dynamic").asBoolean(),
                o.get("sigma").asDouble(), fit, o.get("threads").asInt(), Duration.ofMillis(o.get("peerTimeoutMs").asLong()),
                reqs, schedule);
    }
}
