package io.pipefill.model.plan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.model.Chunk;
import io.pipefill.model.sim.StageStep;
import java.util.Arrays;

/**
 * The planner's report as JSON: the best (or the predicted) plan's figures at the top level, the same fields for
 * every ranked plan under {@code plans} with its {@code reason}, the rejected layouts and the notes. The
 * per-stage timeline (for a Gantt chart) is included on request.
 */
public final class PlanJson {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PlanJson() {
    }

    public static String write(PlanReport report, boolean timeline) {
        try {
            return MAPPER.writeValueAsString(tree(report, timeline));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ObjectNode tree(PlanReport report, boolean timeline) {
        ObjectNode o = MAPPER.createObjectNode();
        PlanRequest r = report.request();
        o.put("mode", r.predicts() ? "predict" : "recommend");
        o.put("model", r.model().name());
        o.put("gpu", r.cluster().gpu().name());
        o.put("nodes", r.cluster().nodes());
        o.put("gpus_per_node", r.cluster().gpusPerNode());
        o.put("prompt_tokens", r.promptTokens());
        o.put("objective", r.objective().name().toLowerCase().replace('_', '-'));
        ObjectNode eff = o.putObject("efficiency");
        var e = r.cluster().gpu().efficiency();
        eff.put("gemm", e.gemm()).put("attention", e.attention()).put("memory", e.memory()).put("network", e.network())
                .put("layer_overhead_ms", e.layerOverheadMs())
                .put("chunk_overhead_ms", e.chunkOverheadMs());
        if (!report.plans().isEmpty()) {
            plan(o, report.best(), timeline);
        }
        if (!r.predicts()) {
            ArrayNode plans = o.putArray("plans");
            int rank = 1;
            for (Plan p : report.plans()) {
                ObjectNode po = plans.addObject();
                po.put("rank", rank++);
                plan(po, p, false);
            }
            ArrayNode rej = o.putArray("rejected");
            for (Rejection x : report.rejections()) {
                rej.addObject().put("pp", x.pp()).put("tp", x.tp()).put("reason", x.reason());
            }
        }
        ArrayNode notes = o.putArray("notes");
        report.notes().forEach(notes::add);
        return o;
    }

    private static void plan(ObjectNode o, Plan p, boolean timeline) {
        o.put("pp", p.layout().pp());
        o.put("tp", p.layout().tp());
        o.put("gpus", p.layout().gpus());
        ArrayNode part = o.putArray("layer_partition");
        Arrays.stream(p.layout().partition().layersPerStage()).forEach(part::add);
        // the same in the form `pipefill prefill --layer-partition` and POST /api/v1/plans' layerPartition take (a
        // deployment takes the list above as layersPerStage)
        o.put("layer_partition_arg", p.layout().partition().toString());
        o.put("layer_partition_searched", p.partitionSearched());
        if (p.partitionSearched()) {
            o.put("even_partition_ttft_ms", p.evenPartitionTtftMs());
        }
        o.put("ttft_ms", p.ttftMs());
        o.put("prefill_tokens_per_s", p.tokensPerSecond());
        o.put("prefill_tokens_per_s_per_gpu", p.tokensPerSecondPerGpu());
        o.put("bubble_ratio", p.simulation().bubbleRatio());
        ArrayNode util = o.putArray("stage_utilization");
        Arrays.stream(p.simulation().stageUtilization()).forEach(util::add);
        o.put("lm_head_ms", p.simulation().headMs());
        ChunkingChoice c = p.chunking();
        ObjectNode dyn = o.putObject("chunking");
        dyn.put("dynamic", c.dynamic());
        dyn.put("base", c.base());
        dyn.put("sigma", c.dynamic() ? c.sigma() : 0);
        if (c.fit() != null) {
            dyn.put("a", c.fit().a()).put("b", c.fit().b()).put("c", c.fit().c());
        }
        if (c.fallbackReason() != null) {
            dyn.put("fallback_reason", c.fallbackReason());
        }
        dyn.put("planned", c.planned());
        dyn.put("count", c.schedule().size());
        dyn.put("schedule", c.schedule().describeSizes());
        ArrayNode chunks = o.putArray("chunks");
        for (Chunk ch : c.schedule().chunks()) {
            chunks.addObject().put("offset", ch.offset()).put("size", ch.size());
        }
        ObjectNode mem = o.putObject("memory_per_gpu");
        mem.put("stage", p.memory().stage());
        mem.put("weights_bytes", p.memory().weightBytes());
        mem.put("kv_cache_bytes", p.memory().kvBytes());
        mem.put("activation_bytes", p.memory().activationBytes());
        mem.put("total_bytes", p.memory().totalBytes());
        mem.put("usable_bytes", p.memory().usableBytes());
        ObjectNode cost = o.putObject("busiest_stage");
        cost.put("stage", p.busiestStage());
        cost.put("gemm_ms", p.busiestStageCost().gemmMs());
        cost.put("attention_ms", p.busiestStageCost().attentionMs());
        cost.put("all_reduce_ms", p.busiestStageCost().allReduceMs());
        cost.put("overhead_ms", p.busiestStageCost().overheadMs());
        ArrayNode sweep = o.putArray("chunking_sweep");
        for (Plan.SweepPoint s : p.sweep()) {
            ObjectNode so = sweep.addObject().put("chunking", s.chunking());
            if (Double.isNaN(s.ttftMs())) {
                so.putNull("ttft_ms");
            } else {
                so.put("ttft_ms", s.ttftMs());
            }
        }
        o.put("reason", p.reason());
        if (timeline) {
            ArrayNode t = o.putArray("timeline");
            for (StageStep s : p.simulation().timeline()) {
                ObjectNode so = t.addObject().put("stage", s.stage()).put("chunk", s.chunk()).put("offset", s.offset())
                        .put("size", s.size()).put("ready_ms", s.readyMs()).put("start_ms", s.startMs())
                        .put("end_ms", s.endMs()).put("compute_ms", s.computeMs());
                if (s.sendStartMs() >= 0) {
                    so.put("send_start_ms", s.sendStartMs()).put("send_end_ms", s.sendEndMs());
                }
            }
        }
    }
}
