package io.pipefill.model.plan;

import java.util.List;

/** Ranked plans (best first), the layouts ruled out, and notes that apply to all of them. */
public record PlanReport(PlanRequest request, List<Plan> plans, List<Rejection> rejections, List<String> notes) {

    public PlanReport {
        plans = List.copyOf(plans);
        rejections = List.copyOf(rejections);
        notes = List.copyOf(notes);
    }

    public Plan best() {
        if (plans.isEmpty()) {
            throw new IllegalStateException("no feasible layout");
        }
        return plans.get(0);
    }
}
