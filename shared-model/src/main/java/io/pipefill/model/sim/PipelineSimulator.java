package io.pipefill.model.sim;

import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.pipeline.ChunkingPolicy;
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
 *   <li>with a send window k > 0 on a stage, chunk c may start there only once the send of chunk c − k has
 *       completed (its buffer is reused); 0 means unlimited buffers. {@link #engine} takes the engine's windows
 *       from {@link ChunkingPolicy#sendWindow}.</li>
 * </ul>
 * Each event's time is the max of the times it waits on, so the simulation is a single pass in (chunk, stage)
 * order: no queue is needed because every dependency points to an earlier chunk or an earlier stage.
 */
public final class PipelineSimulator {
    private final int stages;
    private final StageLatency latency;
    private final LinkTime link;
    private final double headMs;
    /** Per stage: sends that may be in flight when a chunk starts (0 = unlimited). */
    private final int[] sendWindows;

    /**
     * @param headMs      the final norm + lm_head on the last stage for the one position TTFT needs; it runs after
     *                    the last chunk and counts as that stage's compute
     * @param sendBuffers send window of every stage (0 = unlimited)
     */
    public PipelineSimulator(int stages, StageLatency latency, LinkTime link, double headMs, int sendBuffers) {
        this(stages, latency, link, headMs, uniform(stages, sendBuffers));
    }

    private PipelineSimulator(int stages, StageLatency latency, LinkTime link, double headMs, int[] sendWindows) {
        if (stages < 1) {
            throw new IllegalArgumentException("a pipeline needs at least 1 stage, got " + stages);
        }
        if (!(headMs >= 0) || Double.isInfinite(headMs)) {
            throw new IllegalArgumentException("lm_head time must be a finite number ≥ 0 ms, got " + headMs);
        }
        for (int w : sendWindows) {
            if (w < 0) {
                throw new IllegalArgumentException("send buffers must be ≥ 0 (0 = unlimited), got " + w);
            }
        }
        this.stages = stages;
        this.latency = latency;
        this.link = link;
        this.headMs = headMs;
        this.sendWindows = sendWindows;
    }

    /** A pipeline with the engine's buffers: each stage's send window as the engine's stage loop has it. */
    public static PipelineSimulator engine(int stages, StageLatency latency, LinkTime link, double headMs) {
        if (stages < 1) {
            throw new IllegalArgumentException("a pipeline needs at least 1 stage, got " + stages);
        }
        int[] windows = new int[stages];
        for (int s = 0; s < stages; s++) {
            windows[s] = ChunkingPolicy.sendWindow(s, stages);
        }
        return new PipelineSimulator(stages, latency, link, headMs, windows);
    }

    private static int[] uniform(int stages, int window) {
        int[] w = new int[Math.max(stages, 0)];
        java.util.Arrays.fill(w, window);
        return w;
    }

    public PipelineSimulator(int stages, StageLatency latency, LinkTime link) {
        this(stages, latency, link, 0, 0);
    }

    public int stages() {
        return stages;
    }

    public StageLatency latency() {
        return latency;
    }

    public LinkTime link() {
        return link;
    }

    public double headMs() {
        return headMs;
    }

    /** The same pipeline (buffers, links, lm_head) with another latency model, e.g. a memoised one. */
    public PipelineSimulator withLatency(StageLatency other) {
        return new PipelineSimulator(stages, other, link, headMs, sendWindows);
    }

    /**
     * TTFT alone, with the rules of {@link #run} but without building the timeline: what a search that
     * simulates thousands of schedules needs.
     */
    public double ttftMs(ChunkSchedule schedule) {
        List<Chunk> chunks = schedule.chunks();
        int m = chunks.size();
        double[][] end = new double[stages][m];
        double[][] sendEnd = new double[stages][m];
        for (int c = 0; c < m; c++) {
            Chunk ch = chunks.get(c);
            for (int s = 0; s < stages; s++) {
                double ready = s == 0 ? 0 : sendEnd[s - 1][c];
                double free = c == 0 ? 0 : end[s][c - 1];
                int window = sendWindows[s];
                if (window > 0 && c >= window && s < stages - 1) {
                    free = Math.max(free, sendEnd[s][c - window]);
                }
                double e = Math.max(ready, free)
                        + checked(latency.ms(s, ch.offset(), ch.size()), "compute of chunk " + c + " on stage " + s);
                end[s][c] = e;
                if (s < stages - 1) {
                    double linkFree = c == 0 ? 0 : sendEnd[s][c - 1];
                    sendEnd[s][c] = Math.max(e, linkFree) + checked(link.ms(s, ch.size()), "send of chunk " + c
                            + " from stage " + s);
                }
            }
        }
        return end[stages - 1][m - 1] + headMs;
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
                int window = sendWindows[s];
                if (window > 0 && c >= window && s < stages - 1) {
                    free = Math.max(free, steps[s][c - window].sendEndMs());
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
