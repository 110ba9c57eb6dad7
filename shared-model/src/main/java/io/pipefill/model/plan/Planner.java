package io.pipefill.model.plan;

import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.DynamicChunking;
import io.pipefill.model.cost.ChunkCost;
import io.pipefill.model.cost.Layout;
import io.pipefill.model.cost.MemoryEstimate;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.cost.ParallelCostModel;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.SimulationResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses PP × TP and chunking for one prompt on one cluster: enumerate layouts, rule out the impossible ones
 * (divisibility, placement, memory) with reasons, sweep chunk sizes (and dynamic chunking from 2–4× the best fixed
 * size with σ 0.6–0.85, the design's tuning practice), simulate each with the cost model, rank.
 */
public final class Planner {
    public static final int[] CHUNK_SIZES = {512, 1024, 2048, 4096, 8192, 16384, 32768};
    public static final double[] SIGMAS = {0.6, 0.75, 0.85};
    public static final int[] DYNAMIC_BASE_FACTORS = {2, 3, 4};

    public PlanReport plan(PlanRequest r) {
        ModelSpec m = r.model();
        Cluster c = r.cluster();
        List<String> notes = new ArrayList<>();
        notes.add(m.describe());
        notes.add(String.format("%s: %d node%s × %d GPU%s (%s), NIC %.0f GB/s per GPU", c.gpu().name(), c.nodes(),
                c.nodes() == 1 ? "" : "s", c.gpusPerNode(), c.gpusPerNode() == 1 ? "" : "s", c.gpu().description(),
                c.nicBytesPerS() / 1e9));
        if (r.promptTokens() > m.maxPositionEmbeddings()) {
            notes.add(String.format("the prompt (%d tokens) is longer than max_position_embeddings (%d): the model needs "
                    + "RoPE scaling (e.g. YaRN) to use it; the cost is modelled regardless", r.promptTokens(),
                    m.maxPositionEmbeddings()));
        }
        List<Plan> plans = new ArrayList<>();
        List<Rejection> rejections = new ArrayList<>();
        if (r.predicts()) {
            Layout layout = Layout.of(m, c, r.pp(), r.tp(), r.partition(), r.allowInterNodeTp());
            Object result = evaluateWithPartitions(r, layout);
            if (result instanceof Rejection rej) {
                throw new IllegalArgumentException(rej.layout() + " does not fit: " + rej.reason());
            }
            plans.add((Plan) result);
        } else {
            for (int[] pt : candidates(r)) {
                List<String> problems = Layout.problems(m, c, pt[0], pt[1], r.allowInterNodeTp());
                if (!problems.isEmpty()) {
                    rejections.add(new Rejection(pt[0], pt[1], String.join("; ", problems)));
                    continue;
                }
                Object result = evaluateWithPartitions(r, Layout.of(m, c, pt[0], pt[1], null, r.allowInterNodeTp()));
                if (result instanceof Rejection rej) {
                    rejections.add(rej);
                } else {
                    plans.add((Plan) result);
                }
            }
            Comparator<Plan> order = r.objective() == Objective.TTFT ? Comparator.comparingDouble(Plan::ttftMs)
                    : Comparator.comparingDouble(Plan::tokensPerSecondPerGpu).reversed();
            plans.sort(order);
            if (plans.isEmpty()) {
                notes.add("no layout fits: see the rejections");
            }
        }
        return new PlanReport(r, explainRanks(plans, r.objective()), rejections, notes);
    }

    /** (pp, tp) pairs to try: TP dividing a node (or whole nodes when allowed), GPU counts per the objective. */
    List<int[]> candidates(PlanRequest r) {
        Cluster c = r.cluster();
        int total = c.totalGpus();
        int g = c.gpusPerNode();
        List<Integer> tps = new ArrayList<>();
        for (int t = 1; t <= total; t++) {
            boolean inNode = t <= g && g % t == 0;
            boolean wholeNodes = t > g && t % g == 0 && total % t == 0;
            if ((inNode || (wholeNodes && r.allowInterNodeTp())) && (r.tp() == null || r.tp() == t)) {
                tps.add(t);
            }
        }
        if (r.tp() != null && !tps.contains(r.tp())) {
            tps.add(r.tp()); // let its problems be reported
        }
        List<int[]> out = new ArrayList<>();
        for (int t : tps) {
            for (int p = 1; p * t <= total; p++) {
                if (r.pp() != null && r.pp() != p) {
                    continue;
                }
                int used = p * t;
                boolean allowed = r.objective() == Objective.TTFT ? used == total
                        : used == total || used % g == 0 || (c.nodes() == 1 && g % used == 0);
                if (r.pp() != null && r.tp() == null) {
                    allowed = used == total || r.objective() != Objective.TTFT && used % g == 0;
                }
                if (allowed) {
                    out.add(new int[] {p, t});
                }
            }
        }
        if (out.isEmpty() && r.pp() != null) {
            out.add(new int[] {r.pp(), r.tp() != null ? r.tp() : Math.max(1, total / r.pp())});
        }
        return out;
    }

    /**
     * The layout as given when its partition was asked for; otherwise the even split, then the partitions
     * {@link PartitionSearch} finds with the even split's chunk schedule, and the searched one (with its own best
     * chunking) when it is faster.
     */
    private Object evaluateWithPartitions(PlanRequest r, Layout even) {
        Object first = evaluate(r, even);
        if (r.partition() != null || even.pp() == 1 || !(first instanceof Plan p)) {
            return first;
        }
        ChunkSchedule s = p.chunking().schedule();
        int pp = even.pp();
        int tp = even.tp();
        ModelSpec m = r.model();
        // a layer's cost does not depend on the stage that holds it: each chunk's dense and MoE layer costs once
        ParallelCostModel evenCost = new ParallelCostModel(m, r.cluster(), even);
        List<io.pipefill.model.Chunk> chunks = s.chunks();
        double[] dense = new double[chunks.size()];
        double[] moe = new double[chunks.size()];
        double[] embed = new double[chunks.size()];
        Map<Long, Integer> byOffset = new java.util.HashMap<>();
        double embedTotal = 0;
        for (int j = 0; j < chunks.size(); j++) {
            io.pipefill.model.Chunk ch = chunks.get(j);
            byOffset.put((long) ch.offset(), j);
            dense[j] = m.moeLayerCount() < m.numLayers() ? evenCost.layerCost(false, ch.offset(), ch.size()).totalMs() : 0;
            moe[j] = m.hasMoe() ? evenCost.layerCost(true, ch.offset(), ch.size()).totalMs() : 0;
            embed[j] = evenCost.embeddingMs(ch.size());
            embedTotal += embed[j];
        }
        double[] layerMs = new double[m.numLayers()];
        for (int l = 0; l < layerMs.length; l++) {
            layerMs[l] = java.util.Arrays.stream(m.isMoe(l) ? moe : dense).sum();
        }
        double overhead = r.cluster().gpu().efficiency().chunkOverheadMs();
        PartitionSearch.Result found = PartitionSearch.search(pp, layerMs, embedTotal, evenCost.headMs(), part -> {
            ParallelCostModel cost = new ParallelCostModel(m, r.cluster(), new Layout(pp, tp, part));
            if (!cost.worstMemory(r.promptTokens(), s.maxChunkSize()).fits()) {
                return Double.POSITIVE_INFINITY;
            }
            int[] moeIn = new int[pp];
            int[] denseIn = new int[pp];
            for (int st = 0; st < pp; st++) {
                var sh = part.shard(st);
                moeIn[st] = m.moeLayersIn(sh.firstLayer(), sh.endLayer());
                denseIn[st] = sh.layerCount() - moeIn[st];
            }
            io.pipefill.model.sim.StageLatency latency = (stage, prefix, n) -> {
                int j = byOffset.get(prefix);
                return denseIn[stage] * dense[j] + moeIn[stage] * moe[j] + overhead + (stage == 0 ? embed[j] : 0);
            };
            return PipelineSimulator.engine(pp, latency, evenCost.links(), evenCost.headMs()).ttftMs(s);
        });
        if (!found.uneven() || !(evaluate(r, new Layout(pp, tp, found.partition())) instanceof Plan q)
                || q.ttftMs() >= p.ttftMs()) {
            return first;
        }
        String why = String.format(" Layers %s (searched, `--layer-partition %s`): %.0f ms against %.0f ms for the "
                        + "even split %s, each with its best chunking (%.1f%% less); the stages are busy %s of the time "
                        + "against %s (the first stage also embeds, the last runs the lm_head; %s).",
                found.partition(), found.partition(), q.ttftMs(), p.ttftMs(), even.partition(),
                100 * (1 - q.ttftMs() / p.ttftMs()), shares(q.simulation().stageUtilization()),
                shares(p.simulation().stageUtilization()), layerKinds(r.model(), found.partition()));
        return q.withEvenPartitionTtftMs(p.ttftMs()).withReason(q.reason() + why);
    }

    private static String shares(double[] u) {
        List<String> out = new ArrayList<>();
        for (double x : u) {
            out.add(String.format("%.0f%%", 100 * x));
        }
        return "[" + String.join(", ", out) + "]";
    }

    /** Dense and MoE layers per stage, when the model has both. */
    private static String layerKinds(ModelSpec m, io.pipefill.model.LayerPartition p) {
        if (!m.hasMoe() || m.moeLayerCount() == m.numLayers()) {
            return "every layer costs the same";
        }
        List<String> out = new ArrayList<>();
        for (int st = 0; st < p.stages(); st++) {
            var sh = p.shard(st);
            int moe = m.moeLayersIn(sh.firstLayer(), sh.endLayer());
            out.add((sh.layerCount() - moe) + " dense + " + moe + " MoE");
        }
        return "per stage " + String.join(", ", out);
    }

    /** The best chunking for one layout, or why the layout cannot run this prompt. */
    private Object evaluate(PlanRequest r, Layout layout) {
        ParallelCostModel cost = new ParallelCostModel(r.model(), r.cluster(), layout);
        int prompt = r.promptTokens();
        List<Integer> fixedSizes = new ArrayList<>();
        if (r.chunk() != null) {
            fixedSizes.add(Math.min(r.chunk(), prompt));
        } else {
            for (int s : CHUNK_SIZES) {
                if (s <= prompt) {
                    fixedSizes.add(s);
                }
            }
            if (fixedSizes.isEmpty()) {
                fixedSizes.add(prompt);
            }
        }
        // memory: the KV cache does not depend on the chunk, the activations do
        MemoryEstimate smallest = cost.worstMemory(prompt, fixedSizes.get(0));
        if (!smallest.fits()) {
            return new Rejection(layout.pp(), layout.tp(), smallest.describe() + " on " + r.cluster().gpu().name()
                    + String.format(" (%.0f%% of %.0f GB)", ParallelCostModel.USABLE_MEMORY_SHARE * 100,
                    r.cluster().gpu().memoryBytes() / 1e9));
        }
        PipelineSimulator sim = PipelineSimulator.engine(layout.pp(), cost.latency(), cost.links(), cost.headMs());
        List<Plan.SweepPoint> sweep = new ArrayList<>();
        Candidate bestFixed = null;
        for (int size : fixedSizes) {
            if (!cost.worstMemory(prompt, size).fits()) {
                sweep.add(new Plan.SweepPoint("fixed " + size + ": activations do not fit", Double.NaN));
                continue;
            }
            ChunkSchedule s = ChunkSchedule.fixed(prompt, size);
            Candidate cand = new Candidate(new ChunkingChoice(ChunkingPolicy.fixed(size), s), sim.run(s));
            sweep.add(new Plan.SweepPoint(cand.choice.describe(), cand.result.ttftMs()));
            if (bestFixed == null || cand.result.ttftMs() < bestFixed.result.ttftMs()) {
                bestFixed = cand;
            }
        }
        boolean tryDynamic = r.dynamic() || r.chunk() == null;
        Candidate best = r.dynamic() ? null : bestFixed;
        Candidate bestDynamic = null;
        if (tryDynamic) {
            List<Integer> bases = new ArrayList<>();
            if (r.chunk() != null) {
                bases.add(fixedSizes.get(0));
            } else {
                for (int f : DYNAMIC_BASE_FACTORS) {
                    int b = bestFixed.choice.base() * f;
                    if (b <= prompt && cost.worstMemory(prompt, b).fits()) {
                        bases.add(b);
                    }
                }
                if (bases.isEmpty()) {
                    bases.add(bestFixed.choice.base());
                }
            }
            double[] sigmas = r.sigma() != null ? new double[] {r.sigma()} : SIGMAS;
            for (int base : bases) {
                for (double sigma : sigmas) {
                    ChunkingChoice choice = dynamicChoice(cost, prompt, base, sigma);
                    Candidate cand = new Candidate(choice, sim.run(choice.schedule()));
                    sweep.add(new Plan.SweepPoint(choice.describe(), cand.result.ttftMs()));
                    if (best == null || cand.result.ttftMs() < best.result.ttftMs()) {
                        best = cand;
                    }
                    if (choice.dynamic() && (bestDynamic == null || cand.result.ttftMs() < bestDynamic.result.ttftMs())) {
                        bestDynamic = cand;
                    }
                    if (choice.fallbackReason() != null) {
                        break; // every σ falls back to the same fixed chunks
                    }
                }
            }
        }
        String why = "";
        if (r.planned()) {
            Candidate reference = best;
            Candidate planned = planned(cost, sim, prompt, fixedSizes, bestFixed, bestDynamic);
            sweep.add(new Plan.SweepPoint(planned.choice.describe(), planned.result.ttftMs()));
            why = " " + whyPlanned(cost, planned, reference, bestFixed, bestDynamic, lowerBoundMs(cost, prompt));
            best = planned;
        }
        SimulationResult res = best.result;
        int busiest = 0;
        double[] util = res.stageUtilization();
        for (int s = 1; s < util.length; s++) {
            if (util[s] > util[busiest]) {
                busiest = s;
            }
        }
        ChunkCost share = ChunkCost.ZERO;
        for (var step : res.stage(busiest)) {
            share = share.plus(cost.chunkCost(busiest, step.offset(), step.size()));
        }
        MemoryEstimate mem = cost.worstMemory(prompt, best.choice.schedule().maxChunkSize());
        Plan plan = new Plan(layout, best.choice, res, mem, busiest, share, sweep, "");
        return plan.withReason(explain(plan, cost, r) + why);
    }

    /**
     * The optimised schedule, started from the best fixed chunks and the best σ rule: chunks aligned to 64 tokens
     * (the engine's dynamic-chunk alignment) up to the largest chunk whose activations fit.
     */
    private static Candidate planned(ParallelCostModel cost, PipelineSimulator sim, int prompt, List<Integer> fixedSizes,
                                     Candidate bestFixed, Candidate bestDynamic) {
        int alignment = prompt >= DynamicChunking.alignmentFor(1) ? DynamicChunking.alignmentFor(1) : 1;
        int max = alignment;
        List<Integer> sizes = new ArrayList<>(fixedSizes);
        for (int f : DYNAMIC_BASE_FACTORS) {
            sizes.add(bestFixed.choice.base() * f);
        }
        for (int size : sizes) {
            int n = Math.min(size, prompt);
            if (n > max && cost.worstMemory(prompt, n).fits()) {
                max = n;
            }
        }
        Map<String, ChunkSchedule> seeds = new LinkedHashMap<>();
        seeds.put(bestFixed.choice.describe(), bestFixed.choice.schedule());
        if (bestDynamic != null) {
            seeds.put(bestDynamic.choice.describe(), bestDynamic.choice.schedule());
        }
        var bounds = new ChunkScheduleOptimizer.Bounds(alignment, alignment, max);
        ChunkScheduleOptimizer.Result res = new ChunkScheduleOptimizer(sim).optimise(prompt, bounds, seeds);
        ChunkingChoice choice = ChunkingChoice.planned(res.schedule());
        return new Candidate(choice, sim.run(res.schedule()));
    }

    /**
     * Why the planned schedule beats the best fixed and σ-rule chunkings, from the two simulated timelines: the
     * last stage's TTFT is when it starts (the fill), plus what it computes, plus what it waits between chunks
     * (on the previous stages or their sends), plus the lm_head; the drain is what follows stage 0's last chunk.
     */
    static String whyPlanned(ParallelCostModel cost, Candidate planned, Candidate reference, Candidate bestFixed,
                             Candidate bestDynamic, double lowerBoundMs) {
        Anatomy p = Anatomy.of(planned.result);
        Anatomy q = Anatomy.of(reference.result);
        StringBuilder b = new StringBuilder();
        double scale = planned.result.ttftMs();
        b.append(inMs(scale, "Why %s: TTFT %.0f ms vs %.0f ms for the best fixed (%s)", planned.choice.describe(),
                planned.result.ttftMs(), bestFixed.result.ttftMs(), bestFixed.choice.describe()));
        if (bestDynamic != null) {
            b.append(inMs(scale, " and %.0f ms for the best σ rule (%s)", bestDynamic.result.ttftMs(),
                    bestDynamic.choice.describe()));
        }
        double gain = 1 - planned.result.ttftMs() / reference.result.ttftMs();
        b.append(inMs(scale, ", %.1f%% below the better. Against it, the last stage: starts after %.0f vs %.0f ms "
                        + "(first chunk %d vs %d tokens), computes %.0f vs %.0f ms (%d vs %d chunks: per-chunk overhead "
                        + "and short-chunk GEMMs against attention growth), waits %.0f vs %.0f ms between chunks "
                        + "(stage-0 chunk costs %.0f–%.0f vs %.0f–%.0f ms: a chunk dearer than the one before stalls "
                        + "the stages after it); the drain after stage 0's last chunk takes %.0f vs %.0f ms (last chunk "
                        + "%d vs %d tokens); sends on the first link total %.0f vs %.0f ms, overlapped except where "
                        + "counted in the waits.",
                100 * gain, p.fill, q.fill, p.first, q.first, p.compute, q.compute, p.chunks, q.chunks, p.gaps, q.gaps,
                p.minCost, p.maxCost, q.minCost, q.maxCost, p.drain, q.drain, p.last, q.last, p.sends, q.sends));
        b.append(inMs(scale, " Idle time summed over the stages (the pipeline's fill, drain and stalls): %.0f vs %.0f ms."
                        + " Attention kernels fill %.1f%% vs %.1f%% of the SMs' slots over their waves (FLOP-weighted; a"
                        + " chunk's query tiles × heads per GPU that leave the last wave part-empty waste the rest).",
                idleMs(planned.result), idleMs(reference.result), 100 * attentionFill(cost, planned.choice.schedule()),
                100 * attentionFill(cost, reference.choice.schedule())));
        b.append(inMs(scale, " No schedule can finish before %.0f ms (the busiest stage's work on the whole prompt as "
                + "one chunk, plus the lm_head): the better rule is %.1f%% above that bound, the planned schedule %.1f%%.",
                lowerBoundMs, 100 * (reference.result.ttftMs() / lowerBoundMs - 1),
                100 * (planned.result.ttftMs() / lowerBoundMs - 1)));
        return b.toString();
    }

    /**
     * {@code pattern} formatted with its times ({@code %.0f}) at the precision a plan of {@code scaleMs} needs: whole
     * milliseconds for a long prompt's seconds, three decimals for a tiny model's fraction of a millisecond.
     */
    private static String inMs(double scaleMs, String pattern, Object... args) {
        String p = scaleMs >= 100 ? "%.0f" : scaleMs >= 10 ? "%.1f" : scaleMs >= 1 ? "%.2f" : "%.3f";
        return String.format(pattern.replace("%.0f", p), args);
    }

    /** Stage-time not spent computing, over all stages: P × makespan − Σ busy. */
    private static double idleMs(SimulationResult r) {
        double idle = 0;
        for (double u : r.stageUtilization()) {
            idle += (1 - u) * r.ttftMs();
        }
        return idle;
    }

    /** The attention kernels' wave fill over a schedule, weighted by each chunk's attention FLOPs on stage 0. */
    private static double attentionFill(ParallelCostModel cost, ChunkSchedule s) {
        double flops = 0;
        double filled = 0;
        for (var ch : s.chunks()) {
            double f = cost.chunkCost(0, ch.offset(), ch.size()).attentionFlops();
            flops += f;
            filled += f * cost.attentionWaveFill(ch.size());
        }
        return flops > 0 ? filled / flops : 1;
    }

    /**
     * A floor under every schedule's TTFT: the busiest stage must do at least the work of the whole prompt in one
     * chunk (splitting only adds per-chunk overheads, weight re-reads and less efficient short GEMMs; the causal
     * attention pairs are the same), and the lm_head follows.
     */
    static double lowerBoundMs(ParallelCostModel cost, int prompt) {
        double worst = 0;
        for (int s = 0; s < cost.layout().pp(); s++) {
            worst = Math.max(worst, cost.chunkCost(s, 0, prompt).totalMs());
        }
        return worst + cost.headMs();
    }

    /** Where one simulated prefill's time goes, seen from the last stage. */
    private record Anatomy(double fill, double compute, double gaps, double drain, double minCost, double maxCost,
                           double sends, int chunks, int first, int last) {
        static Anatomy of(SimulationResult r) {
            List<io.pipefill.model.sim.StageStep> last = r.stage(r.stages() - 1);
            List<io.pipefill.model.sim.StageStep> first = r.stage(0);
            double fill = last.get(0).startMs();
            double compute = 0;
            for (var s : last) {
                compute += s.computeMs();
            }
            double end = last.get(last.size() - 1).endMs();
            double gaps = end - fill - compute;
            double drain = end + r.headMs() - first.get(first.size() - 1).endMs();
            double min = Double.POSITIVE_INFINITY;
            double max = 0;
            double sends = 0;
            for (var s : first) {
                min = Math.min(min, s.computeMs());
                max = Math.max(max, s.computeMs());
                if (s.sendStartMs() >= 0) {
                    sends += s.sendEndMs() - s.sendStartMs();
                }
            }
            return new Anatomy(fill, compute, gaps, drain, min, max, sends, first.size(), first.get(0).size(),
                    first.get(first.size() - 1).size());
        }
    }

    /** Profiles stage 0 through the cost model the way the engine profiles it, fits, and derives the chunks. */
    static ChunkingChoice dynamicChoice(ParallelCostModel cost, int prompt, int base, double sigma) {
        int[] profiled = ChunkingPolicy.profileLengths(base);
        double[] lengths = new double[profiled.length];
        double[] ms = new double[profiled.length];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = profiled[i];
            ms[i] = cost.chunkCost(0, 0, profiled[i]).totalMs();
        }
        ChunkingDecision d = ChunkingPolicy.fromProfile(base, sigma, lengths, ms, 0);
        return new ChunkingChoice(d, ChunkingPolicy.schedule(d, prompt));
    }

    private String explain(Plan p, ParallelCostModel cost, PlanRequest r) {
        Layout l = p.layout();
        StringBuilder b = new StringBuilder();
        b.append(l.name()).append(" on ").append(l.gpus()).append(" GPUs: ");
        if (l.tp() > 1) {
            b.append(cost.tpInsideNode() ? "TP inside a node over NVLink" : "TP across nodes over the NIC");
        } else {
            b.append("no TP");
        }
        int crossing = 0;
        for (int s = 0; s + 1 < l.pp(); s++) {
            crossing += cost.linkCrossesNodes(s) ? 1 : 0;
        }
        if (l.pp() > 1) {
            b.append(String.format(", %d stage boundar%s (%d across nodes), layers %s", l.pp() - 1,
                    l.pp() == 2 ? "y" : "ies", crossing, l.partition()));
        }
        int[] parts = l.partition().layersPerStage();
        int min = java.util.Arrays.stream(parts).min().orElse(0);
        int max = java.util.Arrays.stream(parts).max().orElse(0);
        if (min != max) {
            double[] u = p.simulation().stageUtilization();
            b.append(String.format(" (uneven: stages of %d layers are busy %.0f%% of the time, those of %d only %.0f%%)",
                    max, 100 * java.util.Arrays.stream(u).max().orElse(0), min, 100 * java.util.Arrays.stream(u).min().orElse(0)));
        }
        if (r.model().attention() instanceof io.pipefill.model.cost.AttentionSpec.Gqa g && l.tp() > g.kvHeads()) {
            b.append(String.format("; TP %d over %d KV heads replicates each KV head on %d ranks", l.tp(), g.kvHeads(),
                    l.tp() / g.kvHeads()));
        }
        b.append(". ");
        ChunkCost c = p.busiestStageCost();
        double t = c.totalMs();
        b.append(String.format("Busiest stage %d: GEMM %.0f%%, attention %.0f%%, TP all-reduce %.0f%%, fixed overhead %.0f%%",
                p.busiestStage(), 100 * c.gemmMs() / t, 100 * c.attentionMs() / t, 100 * c.allReduceMs() / t,
                100 * c.overheadMs() / t));
        if (c.gemmMemoryBound()) {
            b.append(" (some GEMMs bound by weight reads)");
        }
        b.append(String.format(". Chunking %s", p.chunking().describe()));
        List<Plan.SweepPoint> tried = p.sweep().stream().filter(s -> !Double.isNaN(s.ttftMs())).toList();
        if (tried.size() > 1) {
            Plan.SweepPoint worst = tried.stream().max(Comparator.comparingDouble(Plan.SweepPoint::ttftMs)).orElseThrow();
            b.append(String.format(", best of %d tried (worst: %s at %.0f ms)", tried.size(), worst.chunking(),
                    worst.ttftMs()));
        }
        b.append(String.format(". Bubble %.1f%%. Fullest GPU: %s.", 100 * p.simulation().bubbleRatio(),
                p.memory().describe()));
        return b.toString();
    }

    /** Prefixes each reason with its rank and how it compares with the best. */
    private static List<Plan> explainRanks(List<Plan> plans, Objective objective) {
        List<Plan> out = new ArrayList<>();
        for (int i = 0; i < plans.size(); i++) {
            Plan p = plans.get(i);
            String head;
            if (i == 0) {
                head = plans.size() > 1 ? String.format("Best by %s. ", objective == Objective.TTFT ? "TTFT"
                        : "tokens/s per GPU") : "";
            } else {
                Plan best = plans.get(0);
                head = objective == Objective.TTFT
                        ? String.format("#%d: TTFT %.1f%% above the best (%s). ", i + 1, 100 * (p.ttftMs() / best.ttftMs() - 1),
                                best.layout().name())
                        : String.format("#%d: %.1f%% fewer tokens/s per GPU than the best (%s). ", i + 1,
                                100 * (1 - p.tokensPerSecondPerGpu() / best.tokensPerSecondPerGpu()), best.layout().name());
            }
            out.add(p.withReason(head + p.reason()));
        }
        return out;
    }

    private record Candidate(ChunkingChoice choice, SimulationResult result) {
    }
}
