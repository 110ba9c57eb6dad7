package io.pipefill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.Topology;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.engine.Sampling;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.worker.launch.InProcessPipeline;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineRunner;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.launch.ProcessPipeline;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/** `pipefill prefill --pp P --tp T`: runs the prompt through P×T ranks and reports the pipeline's figures. */
final class PipelineRun {
    private final PrefillCommand cmd;
    private final Path dir;
    private final ModelConfig config;
    private final int[] tokens;
    private final int threads;

    private final List<Integer> schedule;

    PipelineRun(PrefillCommand cmd, Path dir, ModelConfig config, int[] tokens, int threads, List<Integer> schedule) {
        this.schedule = schedule;
        this.cmd = cmd;
        this.dir = dir;
        this.config = config;
        this.tokens = tokens;
        this.threads = threads;
    }

    int execute(PrintStream out, PrintStream log) throws Exception {
        Topology topo = Topology.of(config, cmd.pp, cmd.tp, cmd.layerPartition);
        LatencyFit fit = cmd.givenFit();
        if (cmd.peerTimeout < 1) {
            throw new IllegalArgumentException("--peer-timeout must be at least 1 second, got " + cmd.peerTimeout);
        }
        PipelineSpec spec = new PipelineSpec(dir.toAbsolutePath().toString(), topo, cmd.chunk, cmd.dynamicChunking,
                cmd.smooth, fit, threads, Duration.ofSeconds(cmd.peerTimeout),
                List.of(new PipelineSpec.Request(tokens, cmd.maxNewTokens)), schedule);
        if (!cmd.json) {
            out.printf("model    %s (%s, %d layers, hidden %d, %.1fM params)%n", dir, config.architecture().hfName(),
                    config.numLayers(), config.hiddenSize(), config.parameterCount() / 1e6);
            out.printf("layout   PP %d × TP %d, layers %s, %s, %s%n", topo.pp(), topo.tp(), topo.partition(),
                    cmd.backend == Backends.Kind.cuda
                            ? cmd.inProcess ? "cuda (GPU 0 shared, device-to-device links)" : "cuda (rank r on GPU r, NCCL)"
                            : threads + " thread" + (threads == 1 ? "" : "s") + " per rank",
                    cmd.inProcess ? "in process" : "worker processes");
            if (schedule != null) {
                out.printf("prompt   %d tokens; explicit schedule of %d chunks%n", tokens.length, schedule.size());
            } else {
                out.printf("prompt   %d tokens; %s chunks, base %d%n", tokens.length,
                        cmd.dynamicChunking ? "dynamic (σ " + cmd.smooth + ")" : "fixed", cmd.chunk);
            }
        }
        PipelineRunner runner = cmd.inProcess ? new InProcessPipeline(cmd.backend)
                : new ProcessPipeline(cmd.backend, cmd.quiet ? new PrintStream(PrintStream.nullOutputStream()) : log,
                        Duration.ofSeconds(60));
        PipelineResult r = runner.run(spec);
        RequestResult res = r.result(0);
        if (cmd.logitsOut != null) {
            LogitsFile.write(cmd.logitsOut, res.lastLogits());
        }
        if (cmd.json) {
            out.println(json(r, res));
        } else {
            human(out, r, res);
        }
        return 0;
    }

    private void human(PrintStream out, PipelineResult r, RequestResult res) {
        ChunkingDecision d = r.chunking();
        if (d.dynamicRequested()) {
            out.println(d.dynamicUsed()
                    ? String.format("chunking dynamic: fit a=%.4g b=%.4g c=%.4g; %d chunks", d.fit().a(), d.fit().b(),
                            d.fit().c(), stage0(r).size())
                    : "chunking fell back to fixed: " + d.fallbackReason());
        }
        out.printf("TTFT     %.1f ms   prefill %.0f tokens/s%n", res.ttftMs(), tokens.length / (res.ttftMs() / 1000));
        out.printf("first token %d%n", res.generated().length > 0 ? res.generated()[0] : Sampling.argmax(res.lastLogits()));
        if (res.generated().length > 1) {
            out.printf("generated %s%n", Arrays.toString(res.generated()));
        }
        out.printf("bubble   %.3f   stage utilisation %s%n", r.timeline().bubbleRatio(0), Arrays.toString(
                Arrays.stream(r.timeline().stageUtilization(0)).map(u -> Math.round(u * 1000) / 1000.0).toArray()));
        out.printf("weights per rank (MiB) %s%n", r.weightBytesPerRank().values().stream().map(b -> b >> 20).toList());
    }

    private List<StageEvent> stage0(PipelineResult r) {
        return r.timeline().prefill(0).stream().filter(e -> e.stage() == 0).toList();
    }

    private String json(PipelineResult r, RequestResult res) throws Exception {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = mapper.createObjectNode();
        o.put("model", dir.toString());
        o.put("architecture", config.architecture().hfName());
        o.put("backend", cmd.backend.name());
        o.put("pp", r.spec().topology().pp());
        o.put("tp", r.spec().topology().tp());
        ArrayNode part = o.putArray("layer_partition");
        Arrays.stream(r.spec().topology().partition().layersPerStage()).forEach(part::add);
        o.put("threads_per_rank", threads);
        o.put("prompt_tokens", tokens.length);
        ArrayNode chunks = o.putArray("chunks");
        for (StageEvent e : stage0(r)) {
            chunks.addObject().put("offset", e.offset()).put("size", e.size()).put("ms", e.computeMs());
        }
        ChunkingDecision d = r.chunking();
        ObjectNode dyn = o.putObject("dynamic_chunking");
        dyn.put("enabled", d.dynamicUsed());
        dyn.put("requested", d.dynamicRequested());
        dyn.put("base", d.base());
        dyn.put("sigma", d.dynamicRequested() ? d.sigma() : 0);
        if (d.fit() != null) {
            dyn.put("a", d.fit().a()).put("b", d.fit().b()).put("c", d.fit().c());
        } else {
            dyn.putNull("a").putNull("b").putNull("c");
        }
        if (d.profileLengths() != null) {
            ArrayNode prof = dyn.putArray("profile");
            for (int i = 0; i < d.profileLengths().length; i++) {
                prof.addObject().put("tokens", d.profileLengths()[i]).put("ms", d.profileMs()[i]);
            }
            dyn.put("profile_wall_ms", d.profileWallMs());
        }
        if (d.fallbackReason() != null) {
            dyn.put("fallback_reason", d.fallbackReason());
        } else {
            dyn.putNull("fallback_reason");
        }
        o.put("ttft_ms", res.ttftMs());
        o.put("prefill_tokens_per_s", tokens.length / (res.ttftMs() / 1000));
        int first = res.generated().length > 0 ? res.generated()[0] : Sampling.argmax(res.lastLogits());
        o.put("first_token", first);
        ArrayNode gen = o.putArray("generated_tokens");
        Arrays.stream(res.generated()).forEach(gen::add);
        ArrayNode top = o.putArray("last_logits_top5");
        for (Sampling.Scored s : Sampling.topK(res.lastLogits(), 5)) {
            top.addObject().put("token", s.token()).put("logit", s.logit());
        }
        ArrayNode wb = o.putArray("weights_bytes_per_rank");
        r.weightBytesPerRank().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                .forEach(e -> wb.add(e.getValue()));
        ArrayNode timeline = o.putArray("timeline");
        for (StageEvent e : r.timeline().prefill(0)) {
            timeline.addObject().put("stage", e.stage()).put("chunk", e.chunk()).put("offset", e.offset())
                    .put("size", e.size()).put("start_ms", e.startMs()).put("recv_wait_ms", e.recvWaitMs())
                    .put("compute_start_ms", e.computeStartMs()).put("compute_ms", e.computeMs())
                    .put("send_posted_ms", e.sendPostedMs()).put("send_done_ms", e.sendDoneMs())
                    .put("send_ms", e.sendMs());
        }
        o.put("bubble_ratio", r.timeline().bubbleRatio(0));
        ArrayNode util = o.putArray("stage_utilization");
        Arrays.stream(r.timeline().stageUtilization(0)).forEach(util::add);
        return mapper.writeValueAsString(o);
    }
}
