package io.pipefill.model.pipeline;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A run's stage events and the figures derived from them, for the engine, the control plane and the
 * simulator alike: a stage's utilisation is its compute time over the prefill's span (first chunk start to
 * the last stage's last compute end), the bubble ratio is 1 − mean utilisation.
 */
public record Timeline(int stages, List<StageEvent> events) {

    public Timeline {
        if (stages < 1) {
            throw new IllegalArgumentException("a timeline needs at least 1 stage, got " + stages);
        }
        events = List.copyOf(events);
    }

    /** Prefill events of TP rank 0 of every stage for one request, ordered by stage and chunk. */
    public List<StageEvent> prefill(int request) {
        List<StageEvent> out = new ArrayList<>();
        for (StageEvent e : events) {
            if (e.request() == request && !e.decode() && e.tpRank() == 0) {
                out.add(e);
            }
        }
        out.sort(Comparator.comparingInt(StageEvent::stage).thenComparingInt(StageEvent::chunk));
        return out;
    }

    /** The chunk sizes stage 0 ran for one request, in order: the chunk schedule as executed. */
    public List<Integer> chunkSizes(int request) {
        return prefill(request).stream().filter(e -> e.stage() == 0).map(StageEvent::size).toList();
    }

    /** Per stage: compute time / the prefill's span. */
    public double[] stageUtilization(int request) {
        List<StageEvent> t = prefill(request);
        double begin = t.stream().mapToDouble(StageEvent::startMs).min().orElse(0);
        double end = t.stream().mapToDouble(e -> e.computeStartMs() + e.computeMs()).max().orElse(begin);
        double[] busy = new double[stages];
        for (StageEvent e : t) {
            busy[e.stage()] += e.computeMs();
        }
        return busyShare(busy, end - begin);
    }

    public double bubbleRatio(int request) {
        return bubble(stageUtilization(request));
    }

    /** Each stage's busy time as a share of the span (0 for an empty span). */
    public static double[] busyShare(double[] busyMs, double spanMs) {
        double[] u = new double[busyMs.length];
        for (int s = 0; s < u.length; s++) {
            u[s] = spanMs > 0 ? busyMs[s] / spanMs : 0;
        }
        return u;
    }

    /** 1 − mean utilisation: the share of stage-time spent idle. */
    public static double bubble(double[] utilization) {
        double sum = 0;
        for (double v : utilization) {
            sum += v;
        }
        return 1 - sum / utilization.length;
    }
}
