package io.pipefill.model.plan;

import java.util.Locale;

/** What recommendations are ranked by. */
public enum Objective {
    /** Lowest time to first token: uses every GPU of the cluster. */
    TTFT,
    /** Most prefill tokens/s per GPU: also considers layouts on fewer (whole) nodes. */
    THROUGHPUT_PER_GPU;

    public static Objective parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "ttft" -> TTFT;
            case "throughput-per-gpu", "throughput" -> THROUGHPUT_PER_GPU;
            default -> throw new IllegalArgumentException("unknown objective '" + s + "'; allowed: ttft, throughput-per-gpu");
        };
    }
}
