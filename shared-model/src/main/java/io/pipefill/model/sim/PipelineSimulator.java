package io.pipefill.model.sim;

import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.pipeline.Timeline;
import java.util.ArrayList;
import java.util.List;

/**
 * Discrete-event simulation of chunked pipeline prefill, with the engine's rules (StageWorker):
 * <ul>
 *   <li>a stage handles chunks in order, one at a time;</li>
 *   <li>a receive blocks the stage until the chunk's activations have arrived (stage 0 embeds, never waits);</li>
 *   <li>a send is posted when the compute ends and overlaps the stage's next compute;</li>
 *   <li>each link is FIFO: a send starts when the chunk is computed and the previous send on that link is done;</li>
 *   <li>with {@code sendBuffers} = k > 0, chunk c may start only once the send of chunk c − k has completed (its
 *       buffer is reused; the engine alternates two buffers); 0 means unlimited buffers.</li>
 * </ul>
 * Each event's time is the max of the times it waits on, so the simulation is a single pass in (chunk, stage)
 * order: no queue is needed because every dependency points to an earlier chunk or an earlier stage.
 */
public final class PipelineSimulator {
    /** The engine alternates two activation buffers per stage. */
    public static final int ENGINE_SEND_BUFFERS = 2;

    private final int stages;
    private final StageLatency latency;
    private final LinkTime link;
    private final double headMs;
    private final int sendBuffers;

    /**
     * @param headMs      the final norm + lm_head on the last stage for the one position TTFT needs; it runs after
     *                    the last chunk and counts as that stage's compute
     * @param sendBuffers activation buffers per stage (0 = unlimited)
     */
    public PipelineSimulator(int stages, StageLatency latency, LinkTime link, double headMs, int sendBuffers) {
        if (stages < 1) {
            throw new IllegalArgumentException("a pipeline needs at least 1 stage, got " + stages);
        }
        if (!(headMs >= 0) || Double.isInfinite(headMs)) {
            throw new IllegalArgumentException("lm_head time must be a finite number ≥ 0 ms, got " + headMs);
        }
        if (sendBuffers < 0) {
            throw new IllegalArgumentException("send buffers must be ≥ 0 (0 = unlimited), got " + sendBuffers);
        }
        this.stages = stages;
        this.latency = latency;
        this.link = link;
        this.headMs = headMs;
        this.sendBuffers = sendBuffers;
    }

    public PipelineSimulator(int stages, StageLatency latency, LinkTime link) {
        this(stages, latency, link, 0, 0);
    }

    public SimulationResult run(ChunkSchedule schedule) {
        List<Chunk> chunks = schedule.chunks();
        int m = chunks.size();
        StageStep[][] steps = new StageStep[stages][m];
        double[] busy = new double[stages];
        for (int c = 0; c < m; c++) {
            Chunk ch = chunks.get(c);
            for (int s = 0; s < stages; s++) {
                double ready = s == 0 ? 0 : steps[s - 1][c].sendEndMs();
                double free = c == 0 ? 0 : steps[s][c - 1].endMs();
                if (sendBuffers > 0 && c >= sendBuffers && s < stages - 1) {
                    free = Math.max(free, steps[s][c - sendBuffers].sendEndMs());
                }
                double start = Math.max(ready, free);
                double compute = checked(latency.ms(s, ch.offset(), ch.size()), "compute of chunk " + c + " on stage " + s);
                double end = start + compute;
                busy[s] += compute;
                double sendStart = -1;
                double sendEnd = -1;
                if (s < stages - 1) {
                    double linkFree = c == 0 ? 0 : steps[s][c - 1].sendEndMs();
                    sendStart = Math.max(end, linkFree);
                    sendEnd = sendStart + checked(link.ms(s, ch.size()), "send of chunk " + c + " from stage " + s);
                }
                steps[s][c] = new StageStep(s, c, ch.offset(), ch.size(), ready, start, end, sendStart, sendEnd);
            }
        }
        double lastEnd = steps[stages - 1][m - 1].endMs();
        double makespan = lastEnd + headMs;
        busy[stages - 1] += headMs;
        double[] util = Timeline.busyShare(busy, makespan);
        List<StageStep> timeline = new ArrayList<>(stages * m);
        for (int s = 0; s < stages; s++) {
            for (int c = 0; c < m; c++) {
                timeline.add(steps[s][c]);
            }
        }
        return new SimulationResult(schedule.promptTokens(), stages, makespan, makespan, headMs, util,
                Timeline.bubble(util), timeline);
    }

    private static double checked(double ms, String what) {
        if (!(ms >= 0) || Double.isInfinite(ms)) {
            throw new IllegalArgumentException("the latency model gave " + ms + " ms for the " + what
                    + "; times must be finite and ≥ 0");
        }
        return ms;
    }
}
