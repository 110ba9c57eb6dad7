package io.pipefill.worker.agent;

import io.pipefill.model.agent.DataEndpoint;
import io.pipefill.model.agent.RunStart;
import io.pipefill.worker.comm.RunSecret;
import io.pipefill.worker.comm.SocketTransport;
import io.pipefill.worker.engine.StageChecks;
import io.pipefill.worker.pipeline.LoadedStage;
import io.pipefill.worker.pipeline.PipelineSpec;
import java.time.Duration;
import java.util.List;

/** Turns a {@link RunStart} into the pipeline's one-request spec, refusing (400, naming the field) what cannot run. */
final class RunSpecs {
    private RunSpecs() {
    }

    static PipelineSpec spec(RunStart rs, ShardPlan plan, LoadedStage loaded) {
        int world = plan.topology().worldSize();
        int[] tokens = rs.tokens();
        require(tokens != null && tokens.length > 0, "tokens must hold at least one token id");
        int vocab = loaded.config().vocabSize();
        StageChecks.tokensInVocabulary(tokens, vocab, detail -> AgentException.badRequest("run start: tokens: " + detail));
        require(rs.maxNewTokens() >= 0, "maxNewTokens must be at least 0, got " + rs.maxNewTokens());
        require(rs.chunk() > 0, "chunk must be positive, got " + rs.chunk());
        require(rs.peerTimeoutMs() > 0, "peerTimeoutMs must be positive, got " + rs.peerTimeoutMs());
        List<DataEndpoint> peers = rs.peers();
        require(peers != null && peers.size() == world, "peers must list one endpoint per rank (" + world + " for pp "
                + plan.topology().pp() + " × tp " + plan.topology().tp() + "), got " + (peers == null ? "none" : peers.size()));
        for (int i = 0; i < peers.size(); i++) {
            DataEndpoint p = peers.get(i);
            require(p != null && p.host() != null && !p.host().isBlank() && p.port() > 0 && p.port() <= 65535,
                    "peers[" + i + "] must have a host and a port in [1, 65535], got " + p);
        }
        List<Integer> schedule = rs.chunkSchedule();
        if (schedule != null) {
            require(!rs.dynamic(), "chunkSchedule gives the chunks itself; dynamic must be false with it");
            require(!schedule.isEmpty(), "chunkSchedule must list positive chunk sizes, got an empty list");
            for (int i = 0; i < schedule.size(); i++) {
                Integer n = schedule.get(i);
                if (n == null || n <= 0) {
                    // the index and value, not the list: a schedule can hold many thousands of entries
                    require(false, "chunkSchedule must list positive chunk sizes; entry " + i + " of " + schedule.size()
                            + " is " + n);
                }
            }
            long sum = schedule.stream().mapToLong(Integer::longValue).sum();
            require(sum == tokens.length, "chunkSchedule covers " + sum + " tokens but the prompt has " + tokens.length);
        }
        PipelineSpec spec = new PipelineSpec(plan.modelDir().toString(), plan.topology(), rs.chunk(), rs.dynamic(),
                rs.sigma(), null, plan.threads(), Duration.ofMillis(rs.peerTimeoutMs()),
                List.of(new PipelineSpec.Request(tokens, rs.maxNewTokens(), rs.samplingOrGreedy())), schedule);
        int stage = loaded.stageIndex();
        int need = spec.kvCapacity(stage);
        require(need <= loaded.kvCapacity(), "the run needs " + need + " KV positions on stage " + stage + " ("
                + tokens.length + " tokens + maxNewTokens " + rs.maxNewTokens()
                + (rs.dynamic() && stage == 0 ? ", and the dynamic-chunking profile of chunk " + rs.chunk() : "")
                + ") but the shard was loaded for maxTokens " + plan.assignment().maxTokens());
        return spec;
    }

    /** Who the run's data port admits: the ranks proving {@code dataSecret}, sending frames no larger than the run's. */
    static SocketTransport.Admission admission(RunStart rs, PipelineSpec spec, LoadedStage loaded) {
        RunSecret secret;
        try {
            secret = RunSecret.parse(rs.dataSecret(), "dataSecret");
        } catch (IllegalArgumentException e) {
            throw AgentException.badRequest("run start: " + e.getMessage());
        }
        return SocketTransport.Admission.of(secret, spec.maxFrameFloats(loaded.config().hiddenSize()));
    }

    private static void require(boolean ok, String detail) {
        if (!ok) {
            throw AgentException.badRequest("run start: " + detail);
        }
    }
}
