package io.pipefill.cli.local;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Latencies of one kind of request, with failures counted by HTTP status (0 = no answer); thread-safe. */
final class LatencyRecorder {
    private final List<Double> ms = new ArrayList<>();
    private final Map<Integer, Long> errors = new TreeMap<>();

    synchronized void ok(double latencyMs) {
        ms.add(latencyMs);
    }

    synchronized void error(int status) {
        errors.merge(status, 1L, Long::sum);
    }

    synchronized Summary summary(double seconds) {
        List<Double> s = new ArrayList<>(ms);
        Collections.sort(s);
        long errorCount = errors.values().stream().mapToLong(Long::longValue).sum();
        return new Summary(s.size(), errorCount, Map.copyOf(errors), s.size() / seconds, pct(s, 0.50), pct(s, 0.99),
                s.isEmpty() ? 0 : s.get(s.size() - 1));
    }

    private static double pct(List<Double> sorted, double p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        int i = (int) Math.ceil(p * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    /** Successful count, errors (and by status), successes per second, p50/p99/max latency in ms. */
    record Summary(long count, long errors, Map<Integer, Long> errorsByStatus, double perSecond, double p50Ms,
                   double p99Ms, double maxMs) {
    }
}
