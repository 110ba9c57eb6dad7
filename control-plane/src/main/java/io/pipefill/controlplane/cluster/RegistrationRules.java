package io.pipefill.controlplane.cluster;

import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.WorkerRegistration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the agent protocol's bodies. They are shared-model records without validation annotations (the worker
 * has no Bean Validation), so the rules live here and fail with the same field list a bean-validation error gives.
 *
 * <p>Every string and collection is bounded (a registration is stored and listed; a 1 MB name must be a 400,
 * not a failed index write), and claimed hardware must be plausible for one node: placement trusts it.
 */
final class RegistrationRules {
    static final Set<String> BACKENDS = Set.of("cpu", "cuda");
    /** A DNS name's limit; node names, hosts and pod names are DNS names. */
    static final int MAX_NAME = 253;
    static final int MAX_LABELS = 64;
    static final int MAX_LABEL_KEY = 253;
    static final int MAX_LABEL_VALUE = 256;
    static final int MAX_GPU_KINDS = 16;
    /** GPUs one node may claim in all: 8 per board is the norm, 64 leaves room for the largest boxes. */
    static final int MAX_GPUS = 64;
    static final long MAX_GPU_MEMORY = 1L << 40;     // 1 TiB per GPU
    static final int MAX_CPU_CORES = 16_384;
    static final long MAX_MEMORY = 64L << 40;        // 64 TiB per node
    static final int MAX_GPU_MODEL = 128;

    private RegistrationRules() {
    }

    static void check(WorkerRegistration r, AgentUrlPolicy urls) {
        List<FieldProblem> p = new ArrayList<>();
        if (r == null) {
            throw new IllegalArgumentException("the request needs a JSON body: a WorkerRegistration");
        }
        name(p, "nodeName", r.nodeName(), true);
        name(p, "host", r.host(), true);
        name(p, "podName", r.podName(), false);
        if (notBlank(p, "backend", r.backend()) && !BACKENDS.contains(r.backend())) {
            p.add(new FieldProblem("backend", "must be one of cpu, cuda (got '" + shown(r.backend()) + "')"));
        }
        if (notBlank(p, "agentUrl", r.agentUrl())) {
            String why = urls.problem(r.agentUrl());
            if (why != null) {
                p.add(new FieldProblem("agentUrl", why.replace(r.agentUrl(), shown(r.agentUrl()))));
            }
        }
        if (r.cpuCores() < 0 || r.cpuCores() > MAX_CPU_CORES) {
            p.add(new FieldProblem("cpuCores", "must be in 0.." + MAX_CPU_CORES + " (got " + r.cpuCores() + ")"));
        }
        if (r.memoryBytes() < 0 || r.memoryBytes() > MAX_MEMORY) {
            p.add(new FieldProblem("memoryBytes", "must be in 0.." + MAX_MEMORY + " (64 TiB) (got " + r.memoryBytes() + ")"));
        }
        gpus(p, r.gpus() == null ? List.of() : r.gpus());
        labels(p, r.labels() == null ? Map.of() : r.labels());
        if (!p.isEmpty()) {
            throw new InvalidFieldsException(p);
        }
    }

    private static void gpus(List<FieldProblem> p, List<GpuInventory> gpus) {
        if (gpus.size() > MAX_GPU_KINDS) {
            p.add(new FieldProblem("gpus", "at most " + MAX_GPU_KINDS + " kinds of GPU per node (got " + gpus.size() + ")"));
            return;
        }
        long total = 0;
        for (int i = 0; i < gpus.size(); i++) {
            GpuInventory g = gpus.get(i);
            String f = "gpus[" + i + "]";
            if (g == null) {
                p.add(new FieldProblem(f, "must be an object {model, memoryBytes, count}"));
                continue;
            }
            if (notBlank(p, f + ".model", g.model()) && g.model().length() > MAX_GPU_MODEL) {
                p.add(new FieldProblem(f + ".model", "must be at most " + MAX_GPU_MODEL + " characters (got " + g.model().length() + ")"));
            }
            if (g.count() < 1 || g.count() > MAX_GPUS) {
                p.add(new FieldProblem(f + ".count", "must be in 1.." + MAX_GPUS + " (got " + g.count()
                        + "); leave a GPU kind out when there is none"));
            } else {
                total += g.count();
            }
            if (g.memoryBytes() < 0 || g.memoryBytes() > MAX_GPU_MEMORY) {
                p.add(new FieldProblem(f + ".memoryBytes", "must be in 0.." + MAX_GPU_MEMORY + " (1 TiB per GPU) (got "
                        + g.memoryBytes() + ")"));
            }
        }
        if (total > MAX_GPUS) {
            p.add(new FieldProblem("gpus", "at most " + MAX_GPUS + " GPUs per node in all (got " + total + ")"));
        }
    }

    private static void labels(List<FieldProblem> p, Map<String, String> labels) {
        if (labels.size() > MAX_LABELS) {
            p.add(new FieldProblem("labels", "at most " + MAX_LABELS + " labels (got " + labels.size() + ")"));
            return;
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            String k = e.getKey();
            if (k == null || k.isBlank() || k.length() > MAX_LABEL_KEY || hasControl(k)) {
                p.add(new FieldProblem("labels", "keys must be 1 to " + MAX_LABEL_KEY + " printable characters (got '"
                        + shown(k) + "')"));
            } else if (e.getValue() != null && (e.getValue().length() > MAX_LABEL_VALUE || hasControl(e.getValue()))) {
                p.add(new FieldProblem("labels." + k, "must be at most " + MAX_LABEL_VALUE + " printable characters (got "
                        + e.getValue().length() + ")"));
            }
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
        List<FieldProblem> p = new ArrayList<>();
        name(p, "deploymentId", h.deploymentId(), false);
        name(p, "runId", h.runId(), false);
        if (!p.isEmpty()) {
            throw new InvalidFieldsException(p);
        }
    }

    /** A bounded, printable string: required ones must not be blank. */
    private static void name(List<FieldProblem> p, String field, String value, boolean required) {
        if (value == null) {
            if (required) {
                p.add(new FieldProblem(field, "must not be blank"));
            }
            return;
        }
        if (required && !notBlank(p, field, value)) {
            return;
        }
        if (value.length() > MAX_NAME) {
            p.add(new FieldProblem(field, "must be at most " + MAX_NAME + " characters (got " + value.length() + ")"));
        } else if (hasControl(value)) {
            p.add(new FieldProblem(field, "must not contain control characters"));
        }
    }

    private static boolean notBlank(List<FieldProblem> p, String field, String value) {
        if (value == null || value.isBlank()) {
            p.add(new FieldProblem(field, "must not be blank"));
            return false;
        }
        return true;
    }

    private static boolean hasControl(String s) {
        return s.chars().anyMatch(Character::isISOControl);
    }

    /** A value echoed in an error, cut short: an answer never carries a megabyte back. */
    private static String shown(String s) {
        if (s == null) {
            return "null";
        }
        return s.length() <= 80 ? s : s.substring(0, 80) + "… (" + s.length() + " characters)";
    }
}
