package io.pipefill.worker.pipeline;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.DynamicChunking;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.Topology;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.pipeline.SamplingSettings;
import java.time.Duration;
import java.util.List;

/**
 * Everything every rank needs to run the same pipeline: the model, the PP × TP layout, the chunking
 * settings and the requests. All ranks derive identical chunk schedules from it.
 *
 * @param dynamic      dynamic chunking on (profile on stage 0, fit, broadcast)
 * @param sigma        smoothing of dynamic chunks toward {@code chunk}
 * @param givenFit     a latency fit to use instead of profiling (a calibration measured earlier), or null
 * @param peerTimeout  the longest any rank waits for a peer before failing the run
 * @param chunkSchedule explicit chunk sizes (a planned schedule) that every request's prompt is cut into, in order,
 *                      instead of fixed or dynamic chunks; null to derive the chunks. Each prompt must have exactly
 *                      their sum of tokens; the ranks check that they agree on it before the run.
 */
public record PipelineSpec(String modelDir, Topology topology, int chunk, boolean dynamic, double sigma,
                           LatencyFit givenFit, int threadsPerRank, Duration peerTimeout, List<Request> requests,
                           List<Integer> chunkSchedule) {

    /** Fixed or dynamic chunks (no explicit schedule). */
    public PipelineSpec(String modelDir, Topology topology, int chunk, boolean dynamic, double sigma, LatencyFit givenFit,
                        int threadsPerRank, Duration peerTimeout, List<Request> requests) {
        this(modelDir, topology, chunk, dynamic, sigma, givenFit, threadsPerRank, peerTimeout, requests, null);
    }

    /** One prompt, how many tokens to generate after it and how to pick them. */
    public record Request(int[] tokens, int maxNewTokens, SamplingSettings sampling) {
        /** A greedy request. */
        public Request(int[] tokens, int maxNewTokens) {
            this(tokens, maxNewTokens, SamplingSettings.GREEDY);
        }

        public int kvPositions() {
            return ChunkingPolicy.kvPositions(tokens.length, maxNewTokens);
        }
    }

    public PipelineSpec {
        requests = List.copyOf(requests);
        if (requests.isEmpty()) {
            throw new IllegalArgumentException("a pipeline run needs at least one request");
        }
        if (chunk <= 0) {
            throw new IllegalArgumentException("--chunk must be positive, got " + chunk);
        }
        if (threadsPerRank < 1) {
            throw new IllegalArgumentException("threads per rank must be at least 1, got " + threadsPerRank);
        }
        if (chunkSchedule != null) {
            ChunkSchedule s = ChunkSchedule.ofSizes(chunkSchedule); // checks the sizes
            chunkSchedule = s.sizes();
            if (dynamic) {
                throw new IllegalArgumentException("--chunk-schedule gives the chunks itself: drop --dynamic-chunking");
            }
            for (int i = 0; i < requests.size(); i++) {
                int n = requests.get(i).tokens().length;
                if (n != s.promptTokens()) {
                    throw new IllegalArgumentException("the chunk schedule covers " + s.promptTokens() + " tokens ("
                            + s.size() + " chunks) but prompt " + i + " has " + n + "; a schedule is made for one"
                            + " prompt length (pipefill plan --chunking planned --prompt-tokens " + n + " gives one)");
                }
            }
        }
    }

    /** The explicit schedule, or null when the chunks are derived from {@code chunk} (and the fit). */
    public ChunkSchedule explicitSchedule() {
        return chunkSchedule == null ? null : ChunkSchedule.ofSizes(chunkSchedule);
    }

    /**
     * Rows in the largest float message a rank of this run sends: a chunk's hidden states or TP sums (at most the
     * base chunk, or 64 rows when dynamic chunks align up a smaller base, or an explicit schedule's largest), the stage-0 profile's TP sums
     * (1.25 × base) or the warm-up's ({@link LoadedStage#WARM_UP_TOKENS}). Data ports refuse larger frames.
     */
    public int maxMessageRows() {
        int explicit = chunkSchedule == null ? 0 : chunkSchedule.stream().mapToInt(Integer::intValue).max().orElse(0);
        return Math.max(Math.max(Math.max(ChunkingPolicy.maxProfileLength(chunk), DynamicChunking.alignmentFor(1)),
                LoadedStage.WARM_UP_TOKENS), explicit);
    }

    /** {@link #maxMessageRows} × the hidden size: the data ports' frame bound. */
    public int maxFrameFloats(int hiddenSize) {
        return (int) Math.min(Integer.MAX_VALUE, (long) maxMessageRows() * hiddenSize);
    }

    /** KV positions a stage must hold: the longest request, and the profile's 1.25 × base on stage 0. */
    public int kvCapacity(int stage) {
        return ChunkingPolicy.kvCapacity(stage, requests.stream().mapToInt(Request::kvPositions).max().orElse(1),
                dynamic && givenFit == null, chunk);
    }
}
