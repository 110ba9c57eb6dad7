package io.pipefill.controlplane.run;

import io.pipefill.controlplane.cluster.WorkerIdentity;
import io.pipefill.controlplane.common.Blocking;
import io.pipefill.model.agent.RunReport;
import java.util.List;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * Worker-facing (the worker's own credential): ranks report a run's progress, results, timelines and errors
 * here. A report's sender is the worker whose credential the request carried, whatever its body says; the run
 * takes it only for the rank that worker holds ({@link ActiveRun#check}), others get 403 and change nothing.
 */
@RestController
public class AgentReportController {
    private final RunService service;

    public AgentReportController(RunService service) {
        this.service = service;
    }

    @PostMapping("/api/v1/agent/runs/{runId}/reports")
    public Mono<ResponseEntity<Void>> report(@PathVariable UUID runId, @RequestBody RunReport report,
                                             @AuthenticationPrincipal WorkerIdentity sender) {
        if (report.report() == null) {
            return Mono.error(new IllegalArgumentException("report: missing; a rank report object with its type"));
        }
        RunReport fromSender = from(sender, report);
        return Blocking.run(() -> service.report(runId, fromSender)).thenReturn(ResponseEntity.noContent().build());
    }

    /** A rank's queued reports in one request, applied in order (a retried batch's duplicates are dropped by seq). */
    @PostMapping("/api/v1/agent/runs/{runId}/reports/batch")
    public Mono<ResponseEntity<Void>> reports(@PathVariable UUID runId, @RequestBody List<RunReport> reports,
                                              @AuthenticationPrincipal WorkerIdentity sender) {
        for (int i = 0; i < reports.size(); i++) {
            if (reports.get(i) == null || reports.get(i).report() == null) {
                return Mono.error(new IllegalArgumentException("[" + i + "].report: missing; a rank report object with its type"));
            }
        }
        List<RunReport> fromSender = reports.stream().map(r -> from(sender, r)).toList();
        return Blocking.run(() -> service.report(runId, fromSender)).thenReturn(ResponseEntity.noContent().build());
    }

    /** The report as sent by the authenticated worker: its workerId is the credential's, never the body's claim. */
    private static RunReport from(WorkerIdentity sender, RunReport r) {
        return new RunReport(sender == null ? null : sender.workerId().toString(), r.rank(), r.seq(), r.report());
    }
}
