package io.pipefill.controlplane.planning;

import io.pipefill.controlplane.common.Blocking;
import jakarta.validation.Valid;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import tools.jackson.databind.node.ObjectNode;

/** Planning (admin token): ranked PP × TP layouts and chunking with reasons, or a prediction for one layout. */
@RestController
class PlanController {
    private final PlanService plans;

    PlanController(PlanService plans) {
        this.plans = plans;
    }

    @PostMapping("/api/v1/plans")
    Mono<ObjectNode> plan(@Valid @RequestBody PlanBody body) {
        // the planner simulates many layouts: CPU-bound, kept off the event loop with the JDBC reads
        return Blocking.call(() -> plans.plan(body));
    }
}
