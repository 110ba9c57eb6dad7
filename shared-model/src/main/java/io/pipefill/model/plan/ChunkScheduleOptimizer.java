package io.pipefill.model.plan;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.sim.PipelineSimulator;
import io.pipefill.model.sim.StageLatency;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Chooses a whole chunk sequence c₁…c_M for one prompt so that the simulated TTFT of the pipeline is as low as
 * the search finds (DESIGN.md's dynamic chunking equalises chunk costs greedily; this optimises the sequence).
 *
 * <p>Four steps. <b>Dynamic programming</b> over prefix positions on a grid of aligned points, as TeraPipe does
 * for training: when every stage takes the same time t_j for chunk j (and sends are free), a pipeline of P
 * stages finishes after Σ t_j + (P − 1)·max t_j. For each cap τ (taken from the chunk costs themselves) the DP
 * finds the chunks of least total cost with every cost ≤ τ; each cap's schedule is simulated with the engine's
 * rules and the best kept, so the fill and drain, the sends and the engine's send buffers are counted exactly.
 * Where chunk costs are the bottleneck stage's (the max over stages and links) the DP is exact for
 * identical stages and free links — checked against brute force. <b>A beam search</b> whose state is the
 * pipeline's (each stage's finishing time) prices the fill, stalls and drain the DP leaves out; its schedule is
 * another start. <b>Ramps</b>: the best of the DP's and the beam's schedules and the schedules it is given (the best
 * fixed chunks, the best σ rule), and the DP's own, with geometric ramps up at
 * the start and down at the end (the DP prices a chunk alike wherever it stands, but a short first chunk lets the
 * later stages start sooner and a short last one shortens the drain). <b>Local search</b> then starts from the
 * best of all these, moving single boundaries by shrinking aligned steps, merging and splitting chunks, then with
 * what is left of its budget moving tokens between non-adjacent chunks, and keeps any move the simulator says is
 * faster; so the result is never slower than what it started from, and the report says which start won.
 *
 * <p>Every chunk but the last is a multiple of {@code alignment} within [minChunk, maxChunk]; the last takes
 * the remainder (at most maxChunk).
 */
public final class ChunkScheduleOptimizer {
    /** Grid points of the DP: the step grows with the prompt so that the DP stays O(points × chunk sizes × caps). */
    static final int MAX_GRID_POINTS = 512;
    /** Caps tried by the DP when the chunk costs take more distinct values than {@link #ALL_CAPS_UP_TO}. */
    static final int MAX_CAPS = 96;
    static final int ALL_CAPS_UP_TO = 4096;
    /**
     * Simulations the local search may spend: chunk lengths that fill the attention kernels' last wave are found by
     * small boundary moves, many of them on long prompts (a 1M-token prompt over 8 stages: a few seconds).
     */
    static final int MAX_SIMULATIONS = 20000;
    /** States the beam search keeps per grid point (32: DeepSeek-V3.1 PP4 at 128K gained nothing more at 64). */
    static final int BEAM_WIDTH = 32;

    /** Allowed chunk sizes: multiples of {@code alignment} in [minChunk, maxChunk]; the last chunk may be shorter. */
    public record Bounds(int alignment, int minChunk, int maxChunk) {
        public Bounds {
            if (alignment < 1) {
                throw new IllegalArgumentException("alignment must be at least 1 token, got " + alignment);
            }
            if (minChunk < 1 || maxChunk < minChunk) {
                throw new IllegalArgumentException("chunk bounds must satisfy 1 ≤ min ≤ max, got min " + minChunk
                        + " and max " + maxChunk);
            }
            if (ceilTo(minChunk, alignment) > maxChunk) {
                throw new IllegalArgumentException("no multiple of the alignment " + alignment + " lies in [" + minChunk
                        + ", " + maxChunk + "]");
            }
        }

        /** Why {@code s} breaks these bounds, or null when it keeps them. */
        public String violation(ChunkSchedule s) {
            List<Integer> sizes = s.sizes();
            for (int i = 0; i < sizes.size(); i++) {
                int n = sizes.get(i);
                boolean last = i == sizes.size() - 1;
                if (n > maxChunk) {
                    return "chunk " + i + " has " + n + " tokens, above the maximum " + maxChunk;
                }
                if (!last && (n % alignment != 0 || n < minChunk)) {
                    return "chunk " + i + " has " + n + " tokens; all but the last must be multiples of " + alignment
                            + " and at least " + minChunk;
                }
            }
            return null;
        }

        private boolean fits(int size, boolean last) {
            return size >= 1 && size <= maxChunk && (last || size % alignment == 0 && size >= minChunk);
        }
    }

    /**
     * The chosen schedule and its simulated TTFT; the DP's own best schedule and TTFT (before the local search);
     * which start the local search improved ("dp", "beam" or a seed's name; "… with ramps" when a ramp of it won)
     * and how many schedules were simulated.
     */
    public record Result(ChunkSchedule schedule, double ttftMs, ChunkSchedule dpSchedule, double dpTtftMs, String start,
                         double startTtftMs, int simulations) {
    }

    private final PipelineSimulator sim;
    private final StageLatency latency;

    /** @param sim the pipeline the schedules are judged on (its latency is memoised here: searches repeat chunks) */
    public ChunkScheduleOptimizer(PipelineSimulator sim) {
        this.latency = memoised(sim.latency());
        this.sim = sim.withLatency(latency);
    }

    /** The DP alone (no seeds, no local search): what the brute-force tests check. */
    public Result dynamicProgramme(int prompt, Bounds b) {
        return optimise(prompt, b, Map.of(), false);
    }

    /** The beam search alone (no seeds, no local search), simulated. */
    Result beamSearch(int prompt, Bounds b) {
        ChunkSchedule s = beam(prompt, b, BEAM_WIDTH);
        double t = sim.ttftMs(s);
        return new Result(s, t, s, t, "beam", t, 1);
    }

    /**
     * The DP and the beam search, ramps, then the local search from the best of their schedules and {@code seeds}
     * (name → schedule; those that break the bounds or cover another prompt are skipped).
     */
    public Result optimise(int prompt, Bounds b, Map<String, ChunkSchedule> seeds) {
        return optimise(prompt, b, seeds, true);
    }

    private Result optimise(int prompt, Bounds b, Map<String, ChunkSchedule> seeds, boolean search) {
        if (prompt < 1) {
            throw new IllegalArgumentException("the prompt must have at least one token, got " + prompt);
        }
        int[] sims = {0};
        ChunkSchedule dp = dp(prompt, b, sims);
        double dpTtft = sim.ttftMs(dp);
        sims[0]++;
        if (!search) {
            return new Result(dp, dpTtft, dp, dpTtft, "dp", dpTtft, sims[0]);
        }
        String start = "dp";
        ChunkSchedule best = dp;
        double bestTtft = dpTtft;
        ChunkSchedule beam = beam(prompt, b, BEAM_WIDTH);
        double beamTtft = sim.ttftMs(beam);
        sims[0]++;
        if (beamTtft < bestTtft) {
            best = beam;
            bestTtft = beamTtft;
            start = "beam";
        }
        for (Map.Entry<String, ChunkSchedule> e : seeds.entrySet()) {
            ChunkSchedule s = e.getValue();
            if (s.promptTokens() != prompt || b.violation(s) != null) {
                continue;
            }
            double t = sim.ttftMs(s);
            sims[0]++;
            if (t < bestTtft) {
                best = s;
                bestTtft = t;
                start = e.getKey();
            }
        }
        // Ramps around the best start and the DP's schedule: the DP prices every chunk alike wherever it stands, but
        // a short first chunk lets the later stages start sooner and a short last one shortens the drain through them.
        List<ChunkSchedule> bases = best == dp ? List.of(dp) : List.of(best, dp);
        String seedName = start;
        for (ChunkSchedule base : bases) {
            for (Scored s : ramps(base, b, sims)) {
                if (s.ttftMs() < bestTtft) {
                    best = s.schedule();
                    bestTtft = s.ttftMs();
                    start = (base == dp ? "dp" : seedName) + " with ramps";
                }
            }
        }
        double startTtft = bestTtft;
        int step = gridStep(prompt, b);
        List<Integer> cuts = boundaries(best);
        double[] ttft = {bestTtft};
        for (int d = step; ; d = Math.max(b.alignment(), (d / 2) / b.alignment() * b.alignment())) {
            while (sims[0] < MAX_SIMULATIONS && improveOnce(prompt, b, cuts, d, ttft, sims)) {
                // passes at this step until none helps
            }
            if (d == b.alignment() || sims[0] >= MAX_SIMULATIONS) {
                break;
            }
        }
        // With what is left of the budget: move d tokens from one chunk to a later one (or back); the boundaries
        // between them shift together, so the chunks in between keep their lengths. This lets a first chunk shrink
        // for a later one without a detour through slower schedules; it comes last because it costs O(chunks²).
        for (int d = step; sims[0] < MAX_SIMULATIONS; d = Math.max(b.alignment(), (d / 2) / b.alignment() * b.alignment())) {
            while (sims[0] < MAX_SIMULATIONS && transferOnce(prompt, b, cuts, d, ttft, sims)) {
                // passes at this step until none helps
            }
            if (d == b.alignment()) {
                break;
            }
        }
        return new Result(schedule(prompt, cuts), ttft[0], dp, dpTtft, start, startTtft, sims[0]);
    }

    /** One pass over all moves; true when some move was kept. */
    private boolean improveOnce(int prompt, Bounds b, List<Integer> cuts, int d, double[] ttft, int[] sims) {
        boolean improved = false;
        for (int i = 0; i < cuts.size() && sims[0] < MAX_SIMULATIONS; i++) {
            for (int sign : new int[] {-1, 1}) {
                int old = cuts.get(i);
                cuts.set(i, old + sign * d);
                if (!tryKeep(prompt, b, cuts, ttft, sims)) {
                    cuts.set(i, old);
                } else {
                    improved = true;
                }
            }
        }
        for (int i = 0; i < cuts.size() && sims[0] < MAX_SIMULATIONS; i++) { // merge chunk i+1 into chunk i
            int old = cuts.remove(i);
            if (!tryKeep(prompt, b, cuts, ttft, sims)) {
                cuts.add(i, old);
            } else {
                improved = true;
            }
        }
        for (int i = 0; i <= cuts.size() && sims[0] < MAX_SIMULATIONS; i++) { // split chunk i in two
            int lo = i == 0 ? 0 : cuts.get(i - 1);
            int hi = i == cuts.size() ? prompt : cuts.get(i);
            int mid = lo + (hi - lo) / 2 / b.alignment() * b.alignment();
            if (mid <= lo || mid >= hi) {
                continue;
            }
            cuts.add(i, mid);
            if (!tryKeep(prompt, b, cuts, ttft, sims)) {
                cuts.remove(i);
            } else {
                improved = true;
                i++;
            }
        }
        return improved;
    }

    /** One pass of transfers of d tokens between chunk i and a later chunk j; true when some was kept. */
    private boolean transferOnce(int prompt, Bounds b, List<Integer> cuts, int d, double[] ttft, int[] sims) {
        boolean improved = false;
        for (int i = 0; i < cuts.size() && sims[0] < MAX_SIMULATIONS; i++) {
            for (int j = i + 1; j < cuts.size() && sims[0] < MAX_SIMULATIONS; j++) {
                for (int sign : new int[] {-1, 1}) {
                    shift(cuts, i, j, sign * d);
                    if (!tryKeep(prompt, b, cuts, ttft, sims)) {
                        shift(cuts, i, j, -sign * d);
                    } else {
                        improved = true;
                    }
                }
            }
        }
        return improved;
    }

    /** Moves boundaries {@code from} … {@code to} (chunks from+1 … to keep their lengths) by d tokens. */
    private static void shift(List<Integer> cuts, int from, int to, int d) {
        for (int k = from; k <= to; k++) {
            cuts.set(k, cuts.get(k) + d);
        }
    }

    private boolean tryKeep(int prompt, Bounds b, List<Integer> cuts, double[] ttft, int[] sims) {
        int prev = 0;
        for (int i = 0; i <= cuts.size(); i++) {
            int at = i == cuts.size() ? prompt : cuts.get(i);
            if (at <= prev || !b.fits(at - prev, i == cuts.size())) {
                return false;
            }
            prev = at;
        }
        double t = sim.ttftMs(schedule(prompt, cuts));
        sims[0]++;
        if (t < ttft[0] * (1 - 1e-12)) {
            ttft[0] = t;
            return true;
        }
        return false;
    }

    static final double[] RAMP_FRACTIONS = {1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2};
    static final double[] RAMP_RATIOS = {1.05, 1.1, 1.2, 1.4, 2};

    /**
     * {@code base} with its first chunks replaced by a geometric ramp up from a fraction of its first chunk (growing
     * no faster than the stages after the first can absorb keeps them from stalling), with its last chunks replaced
     * by a ramp down to a fraction of its last, and with both (the best ramp up with each ramp down); those that break
     * the bounds are left out, the others simulated once each.
     */
    private List<Scored> ramps(ChunkSchedule base, Bounds b, int[] sims) {
        List<Integer> sizes = base.sizes();
        List<ChunkSchedule> ups = new ArrayList<>();
        List<ChunkSchedule> downs = new ArrayList<>();
        for (double f : RAMP_FRACTIONS) {
            for (double r : RAMP_RATIOS) {
                addIfFits(ups, rampUp(sizes, sizes.get(0) * f, r, b), b);
                addIfFits(downs, rampDown(sizes, sizes.get(sizes.size() - 1) * f, r, b), b);
            }
        }
        List<Scored> out = new ArrayList<>();
        Scored bestUp = null;
        for (ChunkSchedule s : ups) {
            Scored x = score(s, sims);
            out.add(x);
            if (bestUp == null || x.ttftMs() < bestUp.ttftMs()) {
                bestUp = x;
            }
        }
        for (ChunkSchedule s : downs) {
            out.add(score(s, sims));
        }
        if (bestUp != null) {
            List<Integer> up = bestUp.schedule().sizes();
            List<ChunkSchedule> both = new ArrayList<>();
            for (double f : RAMP_FRACTIONS) {
                for (double r : RAMP_RATIOS) {
                    addIfFits(both, rampDown(up, up.get(up.size() - 1) * f, r, b), b);
                }
            }
            for (ChunkSchedule s : both) {
                out.add(score(s, sims));
            }
        }
        return out;
    }

    /** A schedule and its simulated TTFT. */
    private record Scored(ChunkSchedule schedule, double ttftMs) {
    }

    private Scored score(ChunkSchedule s, int[] sims) {
        sims[0]++;
        return new Scored(s, sim.ttftMs(s));
    }

    private static void addIfFits(List<ChunkSchedule> out, List<Integer> sizes, Bounds b) {
        if (sizes != null) {
            ChunkSchedule s = ChunkSchedule.ofSizes(sizes);
            if (b.violation(s) == null) {
                out.add(s);
            }
        }
    }

    /** Chunks first, first·r, first·r², … (aligned) while shorter than {@code sizes}' chunk there, then {@code sizes}' boundaries. */
    static List<Integer> rampUp(List<Integer> sizes, double first, double r, Bounds b) {
        int prompt = sizes.stream().mapToInt(Integer::intValue).sum();
        List<Integer> out = new ArrayList<>();
        int pos = 0;
        for (double c = first; ; c *= r) {
            int n = clampAligned(c, b);
            if (n >= sizeAt(sizes, pos) || pos + n >= prompt) {
                break;
            }
            out.add(n);
            pos += n;
        }
        if (out.isEmpty()) {
            return null;
        }
        int at = 0;
        int i = 0;
        while (at <= pos) { // the base's first boundary past the ramp
            at += sizes.get(i++);
        }
        out.add(at - pos);
        out.addAll(sizes.subList(i, sizes.size()));
        return out;
    }

    /** The mirror of {@link #rampUp}: {@code sizes}' boundaries, then chunks falling by 1/r to about {@code last}. */
    static List<Integer> rampDown(List<Integer> sizes, double last, double r, Bounds b) {
        int prompt = sizes.stream().mapToInt(Integer::intValue).sum();
        List<Integer> tail = new ArrayList<>(); // from the end backwards
        int pos = prompt;
        int a = b.alignment();
        int lastN = prompt - (int) ((prompt - Math.max(1, Math.round(last))) / a * a); // keeps the boundaries aligned
        for (double c = last; ; c *= r) {
            int n = tail.isEmpty() ? lastN : clampAligned(c, b);
            if (n >= sizeAt(sizes, pos - 1) || pos - n <= 0) {
                break;
            }
            tail.add(n);
            pos -= n;
        }
        if (tail.isEmpty()) {
            return null;
        }
        List<Integer> out = new ArrayList<>();
        int at = 0;
        for (int s : sizes) { // the base's boundaries before the ramp
            if (at + s >= pos) {
                break;
            }
            out.add(s);
            at += s;
        }
        out.add(pos - at);
        for (int j = tail.size() - 1; j >= 0; j--) {
            out.add(tail.get(j));
        }
        return out;
    }

    private static int clampAligned(double c, Bounds b) {
        int a = b.alignment();
        long n = Math.round(c / a) * a;
        return (int) Math.max(ceilTo(b.minChunk(), a), Math.min(n, b.maxChunk() / a * a));
    }

    /** The size of the chunk of {@code sizes} that holds token {@code pos}. */
    private static int sizeAt(List<Integer> sizes, int pos) {
        int at = 0;
        for (int s : sizes) {
            at += s;
            if (pos < at) {
                return s;
            }
        }
        return sizes.get(sizes.size() - 1);
    }

    /**
     * A beam search over the grid whose state is the pipeline's: each stage's finishing time after the chunks so
     * far (stage s starts a chunk when stage s − 1 has sent it and it has finished its previous one; the engine's
     * send windows are left to the simulator). At each grid point the {@code width} states that finish the first
     * and last stages soonest are kept, those another state beats on every stage left out: so, unlike the DP, it
     * prices the fill, the stalls and the drain where each chunk stands. Its cost is not counted in the simulation
     * budget: grid points × width × (maxChunk / step) transitions, each a cost lookup per stage (0.4 s for DeepSeek-V3.1
     * PP4 at 128K); the states of a point are dropped once it has been expanded.
     */
    private ChunkSchedule beam(int prompt, Bounds b, int width) {
        int step = gridStep(prompt, b);
        int k = (prompt + step - 1) / step;
        int span = b.maxChunk() / step + 1;
        int stages = sim.stages();
        record State(double[] f, State prev, int size) {
        }
        List<List<State>> at = new ArrayList<>();
        for (int i = 0; i <= k; i++) {
            at.add(new ArrayList<>());
        }
        at.get(0).add(new State(new double[stages], null, 0));
        for (int i = 0; i < k; i++) {
            List<State> here = at.get(i);
            // soonest first: the last stage's finish (what TTFT is) plus the first stage's (how soon it can feed the rest)
            here.sort((x, y) -> Double.compare(x.f[0] + x.f[stages - 1], y.f[0] + y.f[stages - 1]));
            List<State> kept = new ArrayList<>();
            for (State st : here) {
                boolean dominated = false;
                for (State o : kept) {
                    boolean all = true;
                    for (int s = 0; s < stages && all; s++) {
                        all = o.f[s] <= st.f[s];
                    }
                    if (all) {
                        dominated = true;
                        break;
                    }
                }
                if (!dominated) {
                    kept.add(st);
                    if (kept.size() == width) {
                        break;
                    }
                }
            }
            int p = (int) Math.min((long) i * step, prompt);
            for (int j = i + 1; j <= Math.min(k, i + span); j++) {
                int n = (int) Math.min((long) j * step, prompt) - p;
                if (!b.fits(n, j == k)) {
                    continue;
                }
                for (State st : kept) {
                    double[] f = new double[stages];
                    f[0] = st.f[0] + latency.ms(0, p, n);
                    for (int s = 1; s < stages; s++) {
                        f[s] = Math.max(f[s - 1] + sim.link().ms(s - 1, n), st.f[s]) + latency.ms(s, p, n);
                    }
                    at.get(j).add(new State(f, st, n));
                }
            }
            at.set(i, List.of()); // done with this point
        }
        State best = null;
        for (State st : at.get(k)) {
            if (best == null || st.f[stages - 1] < best.f[stages - 1]) {
                best = st;
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("no schedule of chunks within " + b + " covers a prompt of " + prompt
                    + " tokens");
        }
        List<Integer> sizes = new ArrayList<>();
        for (State st = best; st.prev != null; st = st.prev) {
            sizes.add(0, st.size);
        }
        return ChunkSchedule.ofSizes(sizes);
    }

    /** The DP over the grid: for each cap, least total bottleneck cost; the cap whose schedule simulates fastest. */
    private ChunkSchedule dp(int prompt, Bounds b, int[] sims) {
        int step = gridStep(prompt, b);
        int k = (prompt + step - 1) / step; // grid points 0..k, the last at the prompt's end
        int[] pos = new int[k + 1];
        for (int i = 0; i <= k; i++) {
            pos[i] = (int) Math.min((long) i * step, prompt);
        }
        int span = b.maxChunk() / step + 1; // + 1: a short last chunk may span one more point
        double[][] cost = new double[k][span + 1];
        List<Double> values = new ArrayList<>();
        int stages = sim.stages();
        for (int i = 0; i < k; i++) {
            Arrays.fill(cost[i], Double.NaN);
            for (int j = i + 1; j <= Math.min(k, i + span); j++) {
                int n = pos[j] - pos[i];
                if (!b.fits(n, j == k)) {
                    continue;
                }
                double c = 0;
                for (int s = 0; s < stages; s++) {
                    c = Math.max(c, latency.ms(s, pos[i], n));
                    if (s + 1 < stages) {
                        c = Math.max(c, sim.link().ms(s, n));
                    }
                }
                cost[i][j - i] = c;
                values.add(c);
            }
        }
        if (values.isEmpty()) {
            throw new IllegalArgumentException("no chunk of " + b + " fits a prompt of " + prompt + " tokens");
        }
        double[] caps = caps(values);
        ChunkSchedule best = null;
        double bestTtft = Double.POSITIVE_INFINITY;
        double[] f = new double[k + 1];
        int[] from = new int[k + 1];
        for (double cap : caps) {
            Arrays.fill(f, Double.POSITIVE_INFINITY);
            f[0] = 0;
            for (int j = 1; j <= k; j++) {
                for (int i = Math.max(0, j - span); i < j; i++) {
                    double c = cost[i][j - i];
                    if (c <= cap && f[i] + c < f[j]) {
                        f[j] = f[i] + c;
                        from[j] = i;
                    }
                }
            }
            if (Double.isInfinite(f[k])) {
                continue;
            }
            List<Integer> sizes = new ArrayList<>();
            for (int j = k; j > 0; j = from[j]) {
                sizes.add(0, pos[j] - pos[from[j]]);
            }
            ChunkSchedule s = ChunkSchedule.ofSizes(sizes);
            double t = sim.ttftMs(s);
            sims[0]++;
            if (t < bestTtft) {
                bestTtft = t;
                best = s;
            }
        }
        return best;
    }

    /** Every distinct chunk cost when there are few, else evenly spaced quantiles of them (the largest included). */
    private static double[] caps(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().distinct().toArray();
        if (v.length <= ALL_CAPS_UP_TO) {
            return v;
        }
        double[] out = new double[MAX_CAPS];
        for (int i = 0; i < MAX_CAPS; i++) {
            out[i] = v[(int) Math.round((double) i * (v.length - 1) / (MAX_CAPS - 1))];
        }
        return out;
    }

    /** The DP's grid step: the alignment, or a multiple of it that keeps the grid to {@link #MAX_GRID_POINTS}. */
    static int gridStep(int prompt, Bounds b) {
        int a = b.alignment();
        long units = ((long) prompt + a - 1) / a;
        long mult = Math.max(1, (units + MAX_GRID_POINTS - 1) / MAX_GRID_POINTS);
        mult = Math.max(1, Math.min(mult, b.maxChunk() / a)); // a step no chunk can take leaves nothing to choose
        long step = mult * a;
        if ((b.minChunk() + step - 1) / step * step > b.maxChunk()) {
            return a; // no multiple of the coarse step is an allowed chunk (e.g. 320 … 384 in steps of 256)
        }
        return (int) Math.min(Integer.MAX_VALUE, step);
    }

    private static long ceilTo(long x, int a) {
        return (x + a - 1) / a * a;
    }

    private static List<Integer> boundaries(ChunkSchedule s) {
        List<Integer> cuts = new ArrayList<>();
        for (int i = 1; i < s.size(); i++) {
            cuts.add(s.chunks().get(i).offset());
        }
        return cuts;
    }

    private static ChunkSchedule schedule(int prompt, List<Integer> cuts) {
        List<Integer> sizes = new ArrayList<>(cuts.size() + 1);
        int prev = 0;
        for (int c : cuts) {
            sizes.add(c - prev);
            prev = c;
        }
        sizes.add(prompt - prev);
        return ChunkSchedule.ofSizes(sizes);
    }

    /**
     * Searches revisit the same (stage, prefix, size) often; the cost model is pure, so its answers are kept, in
     * an open-addressing table of primitive keys (boxed maps cost more than the cost model here).
     */
    private static StageLatency memoised(StageLatency l) {
        return new StageLatency() {
            private long[] keys = new long[1 << 14];
            private double[] vals = new double[1 << 14];
            private int used;

            @Override
            public double ms(int stage, long prefix, int n) {
                if (stage >= 1 << 11 || prefix >= 1L << 26 || n >= 1 << 26) {
                    return l.ms(stage, prefix, n);
                }
                long key = (((long) stage << 52) | (prefix << 26) | n) + 1; // 0 marks an empty slot
                int mask = keys.length - 1;
                int i = (int) (mix(key) & mask);
                while (keys[i] != 0) {
                    if (keys[i] == key) {
                        return vals[i];
                    }
                    i = (i + 1) & mask;
                }
                double v = l.ms(stage, prefix, n);
                keys[i] = key;
                vals[i] = v;
                if (++used * 2 > keys.length) {
                    grow();
                }
                return v;
            }

            private void grow() {
                long[] ok = keys;
                double[] ov = vals;
                keys = new long[ok.length * 2];
                vals = new double[ok.length * 2];
                int mask = keys.length - 1;
                for (int j = 0; j < ok.length; j++) {
                    if (ok[j] != 0) {
                        int i = (int) (mix(ok[j]) & mask);
                        while (keys[i] != 0) {
                            i = (i + 1) & mask;
                        }
                        keys[i] = ok[j];
                        vals[i] = ov[j];
                    }
                }
            }
        };
    }

    private static long mix(long x) {
        x ^= x >>> 33;
        x *= 0xff51afd7ed558ccdL;
        x ^= x >>> 33;
        return x;
    }
}
