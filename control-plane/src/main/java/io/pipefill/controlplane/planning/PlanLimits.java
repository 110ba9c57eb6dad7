package io.pipefill.controlplane.planning;

import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.plan.Objective;
import io.pipefill.model.plan.Planner;
import java.util.ArrayList;
import java.util.List;

/**
 * What one REST plan may ask for. The planner simulates every chunk on every stage of every candidate layout for
 * each chunking it tries, so its time and memory grow with promptTokens / chunk and with the layouts the cluster
 * allows: a 1M-token prompt with chunk 1 took 14.8 s and 5.2 GB. The prompt is capped at the planner's own smallest
 * swept chunk ({@value #SMALLEST_SWEPT_CHUNK}) times {@value #MAX_CHUNKS} chunks, and so is an explicit chunk;
 * the throughput objective, which tries a layout per whole-node GPU count, is held to {@value #MAX_THROUGHPUT_NODES}
 * nodes. ({@code pipefill plan} on the command line has none of these bounds.)
 */
final class PlanLimits {
    static final int SMALLEST_SWEPT_CHUNK = 512;
    static final int MAX_CHUNKS = 4096;
    static final int MAX_PROMPT_TOKENS = SMALLEST_SWEPT_CHUNK * MAX_CHUNKS;
    static final int MAX_NODES = 1024;
    static final int MAX_GPUS_PER_NODE = 72;
    static final int MAX_GPUS = 4096;
    static final int MAX_THROUGHPUT_NODES = 16;
    /** The longest prompt a planned schedule is optimised for over REST (a 256K plan took seconds on the 2-core VM; before the shape-aware cost model, 7–15 s loaded). */
    static final int MAX_PLANNED_PROMPT_TOKENS = 262_144;

    static {
        if (Planner.CHUNK_SIZES[0] != SMALLEST_SWEPT_CHUNK) {
            throw new ExceptionInInitializerError("the planner's smallest swept chunk changed: update PlanLimits");
        }
    }

    private PlanLimits() {
    }

    /** The smallest chunk a prompt may be planned with: at most {@value #MAX_CHUNKS} chunks. */
    static int smallestChunk(int promptTokens) {
        return (promptTokens + MAX_CHUNKS - 1) / MAX_CHUNKS;
    }

    /** The body's bounds that bean validation cannot state (they relate two fields). */
    static List<FieldProblem> problems(PlanBody b) {
        List<FieldProblem> p = new ArrayList<>();
        if (b.chunk() != null && b.promptTokens() != null && b.chunk() < smallestChunk(b.promptTokens())) {
            p.add(new FieldProblem("chunk", "must be at least " + smallestChunk(b.promptTokens()) + " for a prompt of "
                    + b.promptTokens() + " tokens (got " + b.chunk() + "): a plan simulates at most " + MAX_CHUNKS + " chunks"));
        }
        if ("planned".equals(b.chunking())) {
            if (b.pp() == null || b.tp() == null) {
                p.add(new FieldProblem("chunking", "planned optimises one layout's chunk schedule: give pp and tp (rank the"
                        + " layouts first with chunking swept)"));
            }
            if (b.promptTokens() != null && b.promptTokens() > MAX_PLANNED_PROMPT_TOKENS) {
                p.add(new FieldProblem("promptTokens", "must be at most " + MAX_PLANNED_PROMPT_TOKENS + " with chunking"
                        + " planned over REST (got " + b.promptTokens() + "); pipefill plan --chunking planned has no bound"));
            }
        }
        return p;
    }

    /** The cluster's bounds, checked once it is known (described, or derived from the registered nodes). */
    static List<FieldProblem> problems(Cluster c, Objective objective, String source) {
        String field = source.equals("described") ? "cluster" : "cluster (the registered nodes)";
        List<FieldProblem> p = new ArrayList<>();
        long gpus = (long) c.nodes() * c.gpusPerNode();
        if (gpus > MAX_GPUS) {
            p.add(new FieldProblem(field, c.nodes() + " nodes × " + c.gpusPerNode() + " GPUs = " + gpus
                    + " GPUs; a plan takes at most " + MAX_GPUS));
        } else if (objective == Objective.THROUGHPUT_PER_GPU && c.nodes() > MAX_THROUGHPUT_NODES) {
            p.add(new FieldProblem("objective", "throughput-per-gpu tries a layout per whole-node count and plans at most "
                    + MAX_THROUGHPUT_NODES + " nodes (" + field + " has " + c.nodes() + "); use objective ttft, or give pp and tp"));
        }
        return p;
    }
}
