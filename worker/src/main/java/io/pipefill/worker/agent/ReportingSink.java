package io.pipefill.worker.agent;

import com.fasterxml.jackson.core.type.TypeReference;
import io.pipefill.worker.pipeline.ChunkingDecision;
import io.pipefill.worker.pipeline.PipelineSink;
import io.pipefill.worker.pipeline.RequestResult;
import io.pipefill.worker.pipeline.StageEvent;
import java.util.List;
import java.util.Map;

/**
 * The pipeline's reports as {@code RunReport}s, with the types and bodies the coordinator's control channel
 * carries ({@code WorkerProcess}); "loaded" is not reported per run: the agent's status carries the sizes.
 */
record ReportingSink(ReportSender reports) implements PipelineSink {
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() { };

    @Override
    public void loaded(int rank, long weightBytes, long kvCacheBytes) {
    }

    @Override
    public void chunking(ChunkingDecision decision) {
        reports.send("chunking", AgentJson.MAPPER.convertValue(decision, MAP));
    }

    @Override
    public void result(RequestResult result) {
        reports.send("result", AgentJson.MAPPER.convertValue(result, MAP));
    }

    @Override
    public void chunkDone(int request, int chunk, int chunks, int tokensDone, int promptTokens) {
        reports.send("progress", Map.of("request", request, "chunk", chunk, "chunks", chunks, "done", tokensDone,
                "total", promptTokens));
    }

    @Override
    public void timeline(int rank, List<StageEvent> events) {
        reports.send("timeline", Map.of("rank", rank, "events", List.copyOf(events)));
    }
}
