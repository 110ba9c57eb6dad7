package io.pipefill.controlplane.run;

import io.pipefill.controlplane.common.Blocking;
import io.pipefill.model.agent.RunReport;
import java.util.List;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Worker-facing (join token): ranks report a run's progress, results, timelines and errors here. */
@RestController
public class AgentReportController {
    private final RunService service;

    public AgentReportController(RunService service) {
        this.service = service;
    }

    @PostMapping("/api/v1/agent/runs/{runId}/reports")
    public Mono<ResponseEntity<Void>> report(@PathVariable UUID runId, @RequestBody RunReport report) {
        if (report.report() == null) {
            return Mono.error(new IllegalArgumentException("report: missing; a rank report object with its type"));
        }
        return Blocking.run(() -> service.report(runId, report)).thenReturn(ResponseEntity.noContent().build());
    }

    /** A rank's queued reports in one request, applied in order (a retried batch's duplicates are dropped by seq). */
    @PostMapping("/api/v1/agent/runs/{runId}/reports/batch")
    public Mono<ResponseEntity<Void>> reports(@PathVariable UUID runId, @RequestBody List<RunReport> reports) {
        for (int i = 0; i < reports.size(); i++) {
            if (reports.get(i) == null || reports.get(i).report() == null) {
                return Mono.error(new IllegalArgumentException("[" + i + "].report: missing; a rank report object with its type"));
            }
        }
        return Blocking.run(() -> service.report(runId, reports)).thenReturn(ResponseEntity.noContent().build());
    }
}
