package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.WorkerRegistration;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Checks the agent protocol's bodies. They are shared-model records without validation annotations (the worker
 * has no Bean Validation), so the rules live here and fail with the same field list a bean-validation error gives.
 */
final class RegistrationRules {
    static final Set<String> BACKENDS = Set.of("cpu", "cuda");

    private RegistrationRules() {
    }

    static void check(WorkerRegistration r) {
        List<FieldProblem> p = new ArrayList<>();
        if (r == null) {
            throw new IllegalArgumentException("the request needs a JSON body: a WorkerRegistration");
        }
        notBlank(p, "nodeName", r.nodeName());
        notBlank(p, "host", r.host());
        if (notBlank(p, "backend", r.backend()) && !BACKENDS.contains(r.backend())) {
            p.add(new FieldProblem("backend", "must be one of cpu, cuda (got '" + r.backend() + "')"));
        }
        if (notBlank(p, "agentUrl", r.agentUrl()) && !httpUrl(r.agentUrl())) {
            p.add(new FieldProblem("agentUrl", "must be an absolute http:// or https:// URL with a host (got '"
                    + r.agentUrl() + "')"));
        }
        if (r.cpuCores() < 0) {
            p.add(new FieldProblem("cpuCores", "must be ≥ 0 (got " + r.cpuCores() + ")"));
        }
        if (r.memoryBytes() < 0) {
            p.add(new FieldProblem("memoryBytes", "must be ≥ 0 (got " + r.memoryBytes() + ")"));
        }
        List<GpuInventory> gpus = r.gpus() == null ? List.of() : r.gpus();
        for (int i = 0; i < gpus.size(); i++) {
            GpuInventory g = gpus.get(i);
            String f = "gpus[" + i + "]";
            if (g == null) {
                p.add(new FieldProblem(f, "must be an object {model, memoryBytes, count}"));
                continue;
            }
            notBlank(p, f + ".model", g.model());
            if (g.count() < 1) {
                p.add(new FieldProblem(f + ".count", "must be ≥ 1 (got " + g.count() + "); leave a GPU kind out when there is none"));
            }
            if (g.memoryBytes() < 0) {
                p.add(new FieldProblem(f + ".memoryBytes", "must be ≥ 0 (got " + g.memoryBytes() + ")"));
            }
        }
        if (!p.isEmpty()) {
            throw new InvalidFieldsException(p);
        }
    }

    static void check(Heartbeat h) {
        if (h == null) {
            throw new IllegalArgumentException("the request needs a JSON body: a Heartbeat {state, deploymentId, runId}");
        }
        if (h.state() == null) {
            throw new InvalidFieldsException(List.of(new FieldProblem("state",
                    "is required: one of IDLE, LOADING, READY, RUNNING, FAILED")));
        }
    }

    private static boolean notBlank(List<FieldProblem> p, String field, String value) {
        if (value == null || value.isBlank()) {
            p.add(new FieldProblem(field, "must not be blank"));
            return false;
        }
        return true;
    }

    private static boolean httpUrl(String s) {
        try {
            URI u = new URI(s);
            return ("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }
}
