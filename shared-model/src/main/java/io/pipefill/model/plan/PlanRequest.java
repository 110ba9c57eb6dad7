package io.pipefill.model.plan;

import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.hw.Cluster;

/**
 * What to plan. Null {@code pp}/{@code tp}/{@code chunk}/{@code sigma} mean "choose"; with both pp and tp the
 * planner predicts that one layout. {@code dynamic} asks for dynamic chunking only; without it and without a
 * chunk size, fixed and dynamic chunking are both swept. {@code planned} also sweeps both and then optimises the whole
 * chunk sequence ({@link ChunkScheduleOptimizer}), which is the chunking chosen.
 */
public record PlanRequest(ModelSpec model, Cluster cluster, int promptTokens, Integer pp, Integer tp, String partition,
                          Integer chunk, boolean dynamic, Double sigma, boolean allowInterNodeTp, Objective objective,
                          boolean planned) {

    /** Without planned chunk schedules. */
    public PlanRequest(ModelSpec model, Cluster cluster, int promptTokens, Integer pp, Integer tp, String partition,
                       Integer chunk, boolean dynamic, Double sigma, boolean allowInterNodeTp, Objective objective) {
        this(model, cluster, promptTokens, pp, tp, partition, chunk, dynamic, sigma, allowInterNodeTp, objective, false);
    }

    public PlanRequest {
        if (model == null || cluster == null) {
            throw new IllegalArgumentException("a plan needs a model and a cluster");
        }
        if (promptTokens <= 0) {
            throw new IllegalArgumentException("--prompt-tokens must be positive, got " + promptTokens);
        }
        if (pp != null && pp < 1) {
            throw new IllegalArgumentException("--pp must be at least 1, got " + pp);
        }
        if (tp != null && tp < 1) {
            throw new IllegalArgumentException("--tp must be at least 1, got " + tp);
        }
        if (chunk != null && chunk <= 0) {
            throw new IllegalArgumentException("--chunk must be positive, got " + chunk);
        }
        if (sigma != null && !(sigma >= 0 && sigma <= 1)) {
            throw new IllegalArgumentException("--smooth must be in [0, 1], got " + sigma);
        }
        if (partition != null && pp == null) {
            throw new IllegalArgumentException("--layer-partition needs --pp (and --tp)");
        }
        if (planned && (dynamic || chunk != null)) {
            throw new IllegalArgumentException("--chunking planned chooses the chunks itself: drop --chunk and "
                    + "--dynamic-chunking");
        }
        if (objective == null) {
            objective = Objective.TTFT;
        }
    }

    public boolean predicts() {
        return pp != null && tp != null;
    }
}
