package io.pipefill.worker.pipeline;

import java.io.IOException;

/**
 * Drives every rank of one pipeline run to its end and returns what they reported: as threads of this process
 * (launch.InProcessPipeline) or as worker processes it launches and coordinates (launch.ProcessPipeline). Every
 * rank runs the same stage loop ({@link StageWorker}) and reports the same {@code RankReport}s, gathered by the
 * same {@code RunCollector}; the control plane's RunExecutor plays this part for worker agents over HTTP, through
 * the same records (it cannot share this interface: it never imports the worker).
 */
public interface PipelineRunner {
    PipelineResult run(PipelineSpec spec) throws IOException;
}
