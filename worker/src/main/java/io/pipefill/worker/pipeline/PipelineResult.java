package io.pipefill.worker.pipeline;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Everything the ranks reported for one pipeline run, and the figures derived from the timeline. */
public record PipelineResult(PipelineSpec spec, ChunkingDecision chunking, List<RequestResult> results,
                             Map<Integer, Long> weightBytesPerRank, Map<Integer, Long> kvBytesPerRank,
                             List<StageEvent> events) {

    public RequestResult result(int request) {
        return results.stream().filter(r -> r.request() == request).findFirst()
                .orElseThrow(() -> new IllegalStateException("no result for request " + request));
    }

    /** Prefill events of TP rank 0 of every stage for one request, ordered by stage and chunk. */
    public List<StageEvent> prefillTimeline(int request) {
        List<StageEvent> out = new ArrayList<>();
        for (StageEvent e : events) {
            if (e.request() == request && !e.decode() && e.tpRank() == 0) {
                out.add(e);
            }
        }
        out.sort(Comparator.comparingInt(StageEvent::stage).thenComparingInt(StageEvent::chunk));
        return out;
    }

    /** Per stage: compute time / the prefill's span (first chunk start to the last stage's last compute end). */
    public double[] stageUtilization(int request) {
        List<StageEvent> t = prefillTimeline(request);
        double begin = t.stream().mapToDouble(StageEvent::startMs).min().orElse(0);
        double end = t.stream().mapToDouble(e -> e.computeStartMs() + e.computeMs()).max().orElse(begin);
        Map<Integer, Double> busy = new TreeMap<>();
        for (StageEvent e : t) {
            busy.merge(e.stage(), e.computeMs(), Double::sum);
        }
        double[] u = new double[spec.topology().pp()];
        for (int s = 0; s < u.length; s++) {
            u[s] = end > begin ? busy.getOrDefault(s, 0.0) / (end - begin) : 0;
        }
        return u;
    }

    /** 1 − mean utilisation: the share of stage-time spent idle during the prefill. */
    public double bubbleRatio(int request) {
        double[] u = stageUtilization(request);
        double sum = 0;
        for (double v : u) {
            sum += v;
        }
        return 1 - sum / u.length;
    }
}
