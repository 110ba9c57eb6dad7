package io.pipefill.worker.pipeline;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.Chunk;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import io.pipefill.model.Topology;
import io.pipefill.worker.engine.Activations;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.backends.Placement;
import io.pipefill.worker.engine.TokenSampler;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Groups;
import io.pipefill.worker.comm.Handle;
import io.pipefill.worker.comm.Transport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank's event loop. For each chunk: receive its hidden states (or embed, on stage 0), compute this
 * stage's layers with the stage's KV cache, post the send to the next stage and go straight on to the next
 * chunk; the send is waited on only before its buffer is reused (the buffers rotate; see
 * {@link ChunkingPolicy#activationBuffers}). Only the last
 * stage's TP rank 0 computes logits, and only for the last prompt position and for decode steps, whose
 * tokens travel back to stage 0 so that decoding flows through the same pipeline.
 */
public final class StageWorker {
    private final Transport transport;
    private final PipelineSpec spec;
    private final PipelineSink sink;
    private final Topology topo;
    /** This rank's TP group, PP neighbours and the token source. */
    private final Groups groups;
    private final RunClockSource clocks;
    private final ActivationLink link;
    /** Where {@link #run} loads the shard: backend, GPU share or joined device rank. */
    private final Placement placement;

    /** Supplies the run clock once every rank is loaded (the coordinator starts the clock then). */
    @FunctionalInterface
    public interface RunClockSource {
        RunClock awaitStart();
    }

    public StageWorker(Transport transport, PipelineSpec spec, PipelineSink sink, RunClockSource clocks) {
        this(transport, ActivationLink.hostStaging(transport), Placement.alone(Backends.Kind.cpu), spec, sink, clocks);
    }

    /**
     * A rank whose hidden states travel over {@code link} (host staging over {@code transport}, a device-local
     * link, or a joined rank's NCCL link); {@code placement} matters only to {@link #run}, which loads the shard.
     */
    public StageWorker(Transport transport, ActivationLink link, Placement placement, PipelineSpec spec,
                       PipelineSink sink, RunClockSource clocks) {
        this.link = link;
        this.placement = placement;
        this.transport = transport;
        this.spec = spec;
        this.sink = sink;
        this.topo = spec.topology();
        this.groups = Groups.of(topo, transport.rank());
        this.clocks = clocks;
    }

    /** Loads this rank's shard, warms it up and runs the spec's requests: the one-shot rank of a pipeline run. */
    public void run() {
        try (LoadedStage loaded = LoadedStage.load(Path.of(spec.modelDir()), topo, groups.rank(), placement,
                spec.threadsPerRank(), spec.kvCapacity(groups.stage()))) {
            loaded.bind(transport);
            loaded.warmUp();
            runOn(loaded);
        }
    }

    /**
     * The per-run part on a stage loaded earlier (a long-lived worker serves many runs with one load): agree
     * on the chunking, start the run clock, run the requests, report the timeline. The stage's all-reduces go
     * through this run's transport while it runs.
     */
    public void runOn(LoadedStage loaded) {
        if (loaded.rank() != groups.rank() || !loaded.topology().equals(topo)) {
            throw new IllegalArgumentException("the loaded stage is " + loaded.topology().describe(loaded.rank())
                    + " of pp " + loaded.topology().pp() + " × tp " + loaded.topology().tp() + ", the run wants "
                    + groups.describe() + " of pp " + topo.pp() + " × tp " + topo.tp());
        }
        if (spec.kvCapacity(groups.stage()) > loaded.kvCapacity()) {
            throw new IllegalArgumentException("the run needs " + spec.kvCapacity(groups.stage()) + " KV positions on "
                    + groups.describe() + " but its stage was loaded with " + loaded.kvCapacity());
        }
        loaded.bind(transport);
        try {
            runOn(loaded.stage(), loaded.config());
        } finally {
            loaded.unbind();
        }
    }

    /**
     * The run on a stage its caller loaded and owns (a one-stage pipeline: the single-process prefill), or one
     * whose tensor-parallel sums are already bound to this run's transport ({@link #runOn(LoadedStage)}).
     */
    public void runOn(Stage stage, ModelConfig c) {
        int rank = groups.rank();
        // the profile is a start-up cost like loading the weights: measured once, before the run clock starts
        ChunkingDecision decision = agreeOnChunking(stage, c);
        if (rank == 0) {
            sink.report(decision);
        }
        ChunkSchedule explicit = spec.explicitSchedule(); // every prompt has the schedule's length (PipelineSpec)
        // per-shape work for the run's chunks (cuDNN plans) is a start-up cost too
        stage.prepare(spec.requests().stream().map(req -> schedule(req, decision, explicit)).toList());
        sink.report(new RankReport.Loaded(rank, stage.weightBytes(), stage.kvCacheBytes()));
        RunClock clock = clocks.awaitStart();
        List<StageEvent> events = new ArrayList<>();
        for (int r = 0; r < spec.requests().size(); r++) {
            runRequest(r, stage, c, decision, explicit, clock, events);
        }
        sink.report(new RankReport.RankTimeline(rank, events));
    }

    /**
     * Stage 0 profiles and rank 0 fits; rank 0 sends the decision to every rank (a control message) so that all
     * derive the same chunks from the same values.
     */
    private ChunkingDecision agreeOnChunking(Stage stage, ModelConfig c) {
        ChunkSchedule explicit = spec.explicitSchedule();
        if (explicit != null) {
            // every rank got the schedule with its spec; rank 0's copy is the one all must hold, checked before
            // any chunk moves (a rank cutting the prompt differently would deadlock or mix up activations)
            String mine = explicit.describeSizes();
            String agreed = transport.broadcast(0, transport.allRanks(), groups.rank() == 0 ? mine : null, String.class);
            if (!mine.equals(agreed)) {
                throw new IllegalStateException(groups.describe() + " holds the chunk schedule " + mine
                        + " but rank 0 holds " + agreed + "; every rank must run the same schedule");
            }
            return ChunkingPolicy.fixed(explicit.maxChunkSize());
        }
        if (!spec.dynamic()) {
            return ChunkingPolicy.fixed(spec.chunk());
        }
        if (spec.givenFit() != null) {
            return ChunkingPolicy.given(spec.chunk(), spec.sigma(), spec.givenFit());
        }
        long profileStart = System.nanoTime();
        ChunkingDecision mine = null;
        if (groups.firstStageRank()) {
            // every rank of stage 0 profiles, so that their TP all-reduces line up; rank 0's timings decide
            double[][] profile = ChunkingProfile.measure(stage, spec.chunk(), c.vocabSize());
            if (groups.rank() == 0) {
                mine = ChunkingPolicy.fromProfile(spec.chunk(), spec.sigma(), profile[0], profile[1],
                        (System.nanoTime() - profileStart) / 1e6);
            }
        }
        return transport.broadcast(0, transport.allRanks(), mine, ChunkingDecision.class);
    }

    /** A request's chunks: the run's {@code explicit} schedule, or (null) its prompt cut by {@code decision}. */
    private static ChunkSchedule schedule(PipelineSpec.Request req, ChunkingDecision decision, ChunkSchedule explicit) {
        return explicit != null ? explicit : ChunkingPolicy.schedule(decision, req.tokens().length);
    }

    /** {@code explicit}: the run's given chunk schedule, or null to cut the prompt by {@code decision}. */
    private void runRequest(int r, Stage stage, ModelConfig c, ChunkingDecision decision, ChunkSchedule explicit,
                            RunClock clock, List<StageEvent> events) {
        PipelineSpec.Request req = spec.requests().get(r);
        int[] prompt = req.tokens();
        ChunkSchedule schedule = schedule(req, decision, explicit);
        boolean first = groups.firstStageRank();
        boolean last = groups.lastStageRank();
        boolean logits = groups.computesLogits();
        int prev = groups.previous();
        int next = groups.next();
        int maxRows = schedule.maxChunkSize();
        stage.resetCache();
        // three on a middle stage, two elsewhere: ChunkingPolicy says why, and the simulator's send window follows
        int nBuf = ChunkingPolicy.activationBuffers(groups.stage(), topo.pp());
        Activations[] act = new Activations[nBuf];
        Handle[] recvs = new Handle[nBuf];
        Handle[] pending = new Handle[nBuf];
        int[] pendingEvent = new int[nBuf];
        float[] lastLogits = null;
        double ttftMs = -1;
        List<Chunk> chunks = schedule.chunks();
        try {
            for (int i = 0; i < nBuf; i++) {
                act[i] = stage.allocate(maxRows);
            }
            if (!first) {
                recvs[0] = link.receive(prev, act[0], chunks.get(0).size());
            }
            for (Chunk ch : chunks) {
                int slot = ch.index() % nBuf;
                finishSend(pending, pendingEvent, slot, events, clock);
                double start = clock.ms();
                double recvWait = 0;
                if (first) {
                    stage.embed(prompt, ch.offset(), ch.size(), act[slot]);
                } else {
                    recvs[slot].await();
                    recvs[slot] = null;
                    recvWait = clock.ms() - start;
                    if (ch.index() + 1 < chunks.size()) {
                        int nextSlot = (ch.index() + 1) % nBuf;
                        finishSend(pending, pendingEvent, nextSlot, events, clock);
                        recvs[nextSlot] = link.receive(prev, act[nextSlot], chunks.get(ch.index() + 1).size());
                    }
                }
                double computeStart = clock.ms();
                stage.forward(act[slot], ch.offset(), ch.size());
                if (logits && ch.index() == schedule.size() - 1) {
                    lastLogits = stage.logits(act[slot], ch.size() - 1);
                    ttftMs = clock.ms();
                }
                double computeMs = clock.ms() - computeStart;
                double posted = -1;
                if (!last) {
                    pending[slot] = link.send(next, act[slot], ch.size());
                    posted = clock.ms();
                    pendingEvent[slot] = events.size();
                }
                events.add(new StageEvent(r, groups.rank(), groups.stage(), groups.tpRank(), false, ch.index(), ch.offset(), ch.size(), start,
                        recvWait, computeStart, computeMs, posted, -1));
                if (logits) {
                    sink.report(new RankReport.Progress(r, ch.index(), schedule.size(), ch.end(), prompt.length));
                }
            }
            for (int i = 0; i < nBuf; i++) {
                finishSend(pending, pendingEvent, i, events, clock);
            }
            int[] generated = decode(r, req, stage, act[0], lastLogits, prev, next, clock, events);
            if (logits) {
                sink.report(new RequestResult(r, lastLogits, generated, ttftMs, clock.ms()));
            }
        } finally {
            for (Activations a : act) {
                if (a != null) {
                    a.close();
                }
            }
        }
    }

    private void finishSend(Handle[] pending, int[] pendingEvent, int slot, List<StageEvent> events, RunClock clock) {
        if (pending[slot] == null) {
            return;
        }
        long nowNanos = System.nanoTime();
        double nowMs = clock.ms();
        pending[slot].await();
        double doneMs = nowMs + (pending[slot].completedAtNanos() - nowNanos) / 1e6;
        int i = pendingEvent[slot];
        events.set(i, events.get(i).withSendDone(Math.max(doneMs, events.get(i).sendPostedMs())));
        pending[slot] = null;
    }

    /**
     * Decode through the pipeline: the last stage picks each new token (greedy or sampled, as the request says),
     * reports it at once and sends it back to stage 0.
     */
    private int[] decode(int r, PipelineSpec.Request req, Stage stage, Activations x, float[] lastLogits,
                         int prev, int next, RunClock clock, List<StageEvent> events) {
        int steps = req.maxNewTokens();
        int[] generated = new int[steps];
        if (steps == 0) {
            return generated;
        }
        boolean first = groups.firstStageRank();
        boolean logits = groups.computesLogits();
        int tokenSource = groups.tokenSource();
        float[] token = new float[1];
        TokenSampler sampler = logits ? new TokenSampler(req.sampling()) : null;
        if (logits) {
            generated[0] = sampler.next(lastLogits);
            sink.report(new RankReport.Token(r, 0, generated[0]));
        }
        for (int i = 1; i < steps; i++) {
            int position = req.tokens().length + i - 1;
            if (logits) {
                token[0] = generated[i - 1];
                sendToken(token);
            }
            double start = clock.ms();
            double recvWait = 0;
            if (first) {
                if (!logits) {
                    transport.irecv(tokenSource, Transport.CHANNEL_TOKEN, token, 1).await();
                }
                recvWait = clock.ms() - start;
                stage.embed(new int[] {(int) token[0]}, 0, 1, x);
            } else {
                link.receive(prev, x, 1).await();
                recvWait = clock.ms() - start;
            }
            double computeStart = clock.ms();
            stage.forward(x, position, 1);
            if (logits) {
                generated[i] = sampler.next(stage.logits(x, 0));
                sink.report(new RankReport.Token(r, i, generated[i]));
            }
            double computeMs = clock.ms() - computeStart;
            double posted = -1;
            double done = -1;
            if (next >= 0) {
                Handle sent = link.send(next, x, 1);
                posted = clock.ms();
                sent.await();
                done = clock.ms();
            }
            events.add(new StageEvent(r, groups.rank(), groups.stage(), groups.tpRank(), true, i, position, 1, start, recvWait, computeStart,
                    computeMs, posted, done));
        }
        return generated;
    }

    /** The new token goes to every rank of stage 0 (its TP group), which embeds it. */
    private void sendToken(float[] token) {
        for (int peer : groups.firstStage()) {
            if (peer != groups.rank()) {
                transport.isend(peer, Transport.CHANNEL_TOKEN, token.clone(), 1);
            }
        }
    }
}
