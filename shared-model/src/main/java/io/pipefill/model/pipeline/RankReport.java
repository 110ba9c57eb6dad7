package io.pipefill.model.pipeline;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * What a rank tells whoever drives its run (the coordinator of worker processes, the in-process collector or
 * the control plane), in the order it happens: {@link Loaded} (coordinator runs only; an agent's status
 * carries the sizes), {@link ChunkingDecision} (rank 0), {@link Progress}, {@link Token} and {@link RequestResult}
 * (the last stage's TP rank 0), {@link RankTimeline}, then {@link Done} or {@link Failed}.
 *
 * <p>On the wire each is a JSON object whose {@code type} property is its {@link #kind()}; the annotations
 * are Jackson's shared annotation package, which the worker's Jackson 2 and the control plane's Jackson 3
 * both read.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = RankReport.Loaded.class, name = "loaded"),
        @JsonSubTypes.Type(value = ChunkingDecision.class, name = "chunking"),
        @JsonSubTypes.Type(value = RankReport.Progress.class, name = "progress"),
        @JsonSubTypes.Type(value = RankReport.Token.class, name = "token"),
        @JsonSubTypes.Type(value = RequestResult.class, name = "result"),
        @JsonSubTypes.Type(value = RankReport.RankTimeline.class, name = "timeline"),
        @JsonSubTypes.Type(value = RankReport.Done.class, name = "done"),
        @JsonSubTypes.Type(value = RankReport.Failed.class, name = "error")})
public sealed interface RankReport
        permits RankReport.Loaded, ChunkingDecision, RankReport.Progress, RankReport.Token, RequestResult, RankReport.RankTimeline,
        RankReport.Done, RankReport.Failed {

    /** The report's name: its JSON {@code type} and the {@code type} of the run event it becomes. */
    String kind();

    /** A rank loaded its shard: weights and KV cache in bytes. */
    record Loaded(int rank, long weightBytes, long kvBytes) implements RankReport {
        @Override
        public String kind() {
            return "loaded";
        }
    }

    /** Chunk {@code chunk} of {@code chunks} of a request's prompt is through the last stage: {@code done} of {@code total} tokens. */
    record Progress(int request, int chunk, int chunks, int done, int total) implements RankReport {
        @Override
        public String kind() {
            return "progress";
        }
    }

    /**
     * Generated token {@code index} (0 = the first, from the last prompt position) of a request, reported as soon as
     * it is picked, so that a client can stream it before the run ends.
     */
    record Token(int request, int index, int token) implements RankReport {
        @Override
        public String kind() {
            return "token";
        }
    }

    /** Everything a rank did, once it is done with every request. */
    record RankTimeline(int rank, List<StageEvent> events) implements RankReport {
        public RankTimeline {
            events = List.copyOf(events);
        }

        @Override
        public String kind() {
            return "timeline";
        }
    }

    /** The rank finished the run. */
    record Done(int rank) implements RankReport {
        @Override
        public String kind() {
            return "done";
        }
    }

    /** The rank failed the run, and why. */
    record Failed(int rank, String message) implements RankReport {
        @Override
        public String kind() {
            return "error";
        }
    }
}
