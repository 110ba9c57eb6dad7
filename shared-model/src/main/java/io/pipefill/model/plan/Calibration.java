package io.pipefill.model.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.model.LayerPartition;
import io.pipefill.model.cost.Layout;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.cost.ParallelCostModel;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.Efficiency;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Refits a GPU's GEMM and attention efficiencies and its per-layer and per-chunk overheads from measured chunk
 * times. The cost model predicts a stage's chunk as G/e_gemm + A/e_attn + layers·o_layer + o_chunk + all-reduces,
 * where A is the attention time at 100% of the kernel's large-shape rate (its shape share for this chunk length
 * and prefix included) and G the GEMMs' time with their HBM traffic blended in as the chip's
 * {@link io.pipefill.model.hw.KernelShapes} say, times e_gemm. Given G that is linear in
 * (1/e_gemm, 1/e_attn, o_layer, o_chunk), so least squares over the samples gives them; G itself depends a little on
 * e_gemm (the traffic does not scale with it), so the fit is repeated with G at the last e_gemm until it settles.
 * Attention's memory floor is left out of the fit: calibrate with chunks whose attention is compute-bound. The
 * network factor is refitted from measured sends when the file has them (time = latency +
 * bytes / (bandwidth × e_net), least squares through the origin); the memory factor is kept.
 *
 * <p>Samples come from a JSON file: either the engine's {@code pipefill prefill --pp/--tp --json} report (its
 * {@code timeline}: stage, offset, size, compute_ms, with {@code tp} and {@code layer_partition}), or
 * {@code {"samples": [{"tp", "first_layer", "layers", "prefix", "chunk", "ms"}], "sends": [{"tokens", "ms",
 * "inter_node"}]}} ("sends" optional). The engine's own send times are not used: its CPU sockets carry float32
 * activations and say nothing about NVLink or a NIC.
 */
public final class Calibration {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** The fitted factors, how well they fit, and what to know about them. */
    public record Result(Efficiency efficiency, int samples, double rmsRelativeError, List<String> notes) {
    }

    private Calibration() {
    }

    public static List<CalibrationSample> parse(String text, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        List<CalibrationSample> out = new ArrayList<>();
        if (root != null && root.has("timeline")) {
            int tp = root.path("tp").asInt(1);
            JsonNode part = root.get("layer_partition");
            if (part == null || !part.isArray() || part.isEmpty()) {
                throw new IllegalArgumentException(source + ": an engine report needs 'layer_partition' beside 'timeline'");
            }
            int[] layers = new int[part.size()];
            for (int i = 0; i < layers.length; i++) {
                layers[i] = part.get(i).asInt();
            }
            LayerPartition p = new LayerPartition(layers);
            int lastStage = layers.length - 1;
            int lastChunk = -1;
            for (JsonNode e : root.get("timeline")) {
                lastChunk = Math.max(lastChunk, e.path("chunk").asInt(-1));
            }
            for (JsonNode e : root.get("timeline")) {
                int stage = field(e, "stage", source);
                if (stage < 0 || stage > lastStage) {
                    throw new IllegalArgumentException(source + ": timeline stage " + stage + " is outside the "
                            + layers.length + " stages of layer_partition");
                }
                // the last stage's last chunk also runs the lm_head: not a decoder-layer sample
                if (stage == lastStage && e.path("chunk").asInt(-2) == lastChunk) {
                    continue;
                }
                double ms = e.path("compute_ms").asDouble(-1);
                if (!(ms > 0)) {
                    continue;
                }
                out.add(new CalibrationSample(tp, p.shard(stage).firstLayer(), layers[stage], field(e, "offset", source),
                        field(e, "size", source), ms));
            }
        } else if (root != null && root.has("samples")) {
            for (JsonNode e : root.get("samples")) {
                try {
                    out.add(new CalibrationSample(e.path("tp").asInt(1), e.path("first_layer").asInt(0),
                            field(e, "layers", source), e.path("prefix").asLong(0), field(e, "chunk", source),
                            e.path("ms").asDouble(-1)));
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(source + ": " + ex.getMessage(), ex);
                }
            }
        } else {
            throw new IllegalArgumentException(source + ": expected an engine report (with 'timeline') or an object with"
                    + " 'samples': [{tp, first_layer, layers, prefix, chunk, ms}]");
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(source + ": no usable samples (need compute_ms / ms > 0)");
        }
        return out;
    }

    /** The optional "sends" of a samples file (empty for engine reports). */
    public static List<SendSample> parseSends(String text, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        List<SendSample> out = new ArrayList<>();
        if (root != null && root.has("sends") && !root.has("timeline")) {
            for (JsonNode e : root.get("sends")) {
                try {
                    out.add(new SendSample(field(e, "tokens", source), e.path("ms").asDouble(-1),
                            e.path("inter_node").asBoolean(false)));
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(source + ": " + ex.getMessage(), ex);
                }
            }
        }
        return out;
    }

    private static int field(JsonNode e, String name, String source) {
        JsonNode n = e.get(name);
        if (n == null || !n.isIntegralNumber()) {
            throw new IllegalArgumentException(source + ": sample " + e + " lacks the whole number '" + name + "'");
        }
        return n.asInt();
    }

    /** Fits the factors of {@code cluster}'s GPU to samples measured with model {@code m} on that GPU. */
    public static Result fit(ModelSpec m, Cluster cluster, List<CalibrationSample> samples) {
        return fit(m, cluster, samples, List.of());
    }

    /** As {@link #fit(ModelSpec, Cluster, List)}, also refitting the network factor from {@code sends}. */
    public static Result fit(ModelSpec m, Cluster cluster, List<CalibrationSample> samples, List<SendSample> sends) {
        Efficiency base = cluster.gpu().efficiency();
        Map<Integer, ParallelCostModel> byTp = new HashMap<>();
        int n = samples.size();
        for (CalibrationSample s : samples) {
            if (s.firstLayer() + s.layers() > m.numLayers()) {
                throw new IllegalArgumentException("calibration sample with layers [" + s.firstLayer() + ", "
                        + (s.firstLayer() + s.layers()) + ") exceeds the " + m.numLayers() + " layers of " + m.name());
            }
            byTp.computeIfAbsent(s.tp(), t -> new ParallelCostModel(m, cluster,
                    new Layout(1, t, LayerPartition.even(m.numLayers(), 1))));
        }
        double eg = base.gemm();
        double ea = base.attention();
        double[] coef = null;
        double[][] x = new double[n][];
        double[] y = new double[n];
        List<String> notes = new ArrayList<>();
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < n; i++) {
                CalibrationSample s = samples.get(i);
                ParallelCostModel cost = byTp.get(s.tp());
                double g = 0;
                double a = 0;
                double ar = 0;
                for (int l = s.firstLayer(); l < s.firstLayer() + s.layers(); l++) {
                    double[] t = cost.idealLayerMs(m.isMoe(l), s.prefix(), s.chunk(), eg);
                    g += t[0];
                    a += t[1];
                    ar += t[2];
                }
                x[i] = new double[] {g, a, s.layers(), 1};
                y[i] = s.ms() - ar;
            }
            notes.clear();
            coef = linearFit(x, y, base, notes);
            double before = eg;
            eg = clampEfficiency(coef[0], "GEMM", base.gemm(), new ArrayList<>());
            ea = clampEfficiency(coef[1], "attention", base.attention(), new ArrayList<>());
            if (Math.abs(eg - before) <= 1e-12 * eg) {
                break;
            }
        }
        eg = clampEfficiency(coef[0], "GEMM", base.gemm(), notes);
        ea = clampEfficiency(coef[1], "attention", base.attention(), notes);
        double en = sends.isEmpty() ? base.network() : networkEfficiency(m, cluster, sends, notes);
        Efficiency e = new Efficiency(eg, ea, base.memory(), en, coef[2], coef[3]);
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double pred = x[i][0] / eg + x[i][1] / ea + x[i][2] * coef[2] + coef[3] + (samples.get(i).ms() - y[i]);
            double rel = (pred - samples.get(i).ms()) / samples.get(i).ms();
            sq += rel * rel;
        }
        return new Result(e, n, Math.sqrt(sq / n), notes);
    }

    /**
     * (1/e_gemm, 1/e_attn, o_layer, o_chunk) ≥ 0 by least squares. Where the samples cannot separate the overheads
     * from GEMM time (one chunk size, or one layer count per stage), those that cannot be told apart keep their
     * defaults and the rest is fitted.
     */
    private static double[] linearFit(double[][] x, double[] y, Efficiency base, List<String> notes) {
        int n = x.length;
        try {
            return nonNegativeLeastSquares(x, y, notes);
        } catch (IllegalArgumentException singular) {
            // one layer count per stage: per-layer and per-chunk overheads are proportional; keep the per-chunk one
            try {
                double[][] x3 = new double[n][];
                double[] y3 = new double[n];
                for (int i = 0; i < n; i++) {
                    x3[i] = new double[] {x[i][0], x[i][1], x[i][2]};
                    y3[i] = y[i] - base.chunkOverheadMs();
                }
                double[] c3 = nonNegativeLeastSquares(x3, y3, notes);
                notes.add(String.format("every sample has the same layer count: the per-chunk overhead cannot be told"
                        + " from the per-layer one; kept it at %.3f ms", base.chunkOverheadMs()));
                return new double[] {c3[0], c3[1], c3[2], base.chunkOverheadMs()};
            } catch (IllegalArgumentException alsoSingular) {
                // one chunk size as well (fixed chunking): GEMM time and both overheads scale alike
                double[][] x2 = new double[n][];
                double[] y2 = new double[n];
                for (int i = 0; i < n; i++) {
                    x2[i] = new double[] {x[i][0], x[i][1]};
                    y2[i] = y[i] - x[i][2] * base.layerOverheadMs() - base.chunkOverheadMs();
                }
                double[] c2 = nonNegativeLeastSquares(x2, y2, notes);
                notes.add(String.format("the samples have too few chunk sizes to separate the per-layer overhead from "
                        + "GEMM time; kept the overhead at %.3f ms per layer and %.3f ms per chunk",
                        base.layerOverheadMs(), base.chunkOverheadMs()));
                return new double[] {c2[0], c2[1], base.layerOverheadMs(), base.chunkOverheadMs()};
            }
        }
    }

    /** ms − latency = (bytes / bandwidth) / e_net: least squares through the origin for 1 / e_net. */
    private static double networkEfficiency(ModelSpec m, Cluster cluster, List<SendSample> sends, List<String> notes) {
        double nvlinkOneWay = cluster.gpu().nvlinkBytesPerS() / 2;
        double xy = 0;
        double xx = 0;
        for (SendSample s : sends) {
            double bytes = 2.0 * s.tokens() * m.hiddenSize() * ModelSpec.ACTIVATION_BYTES; // hidden + residual
            double x = bytes / (s.interNode() ? cluster.nicBytesPerS() : nvlinkOneWay) * 1e3;
            double y = s.ms() - (s.interNode() ? cluster.nicLatencyMs() : cluster.nvlinkLatencyMs());
            xy += x * y;
            xx += x * x;
        }
        return clampEfficiency(xy / xx, "network", cluster.gpu().efficiency().network(), notes);
    }

    private static double clampEfficiency(double inverse, String what, double fallback, List<String> notes) {
        if (!(inverse > 0)) {
            notes.add(what + " time is not identifiable from these samples; kept the default " + fallback);
            return fallback;
        }
        double e = 1 / inverse;
        if (e > 1) {
            notes.add(String.format("%s ran at %.0f%% of the datasheet peak: the samples are not from this GPU, or its peak"
                    + " is understated; capped at 100%%", what, 100 * e));
            return 1;
        }
        return e;
    }

    /**
     * Least squares for y ≈ x·c with c ≥ 0: solve on all columns, drop the column with the most negative
     * coefficient and re-solve while any is negative (at most one round per unknown).
     */
    static double[] nonNegativeLeastSquares(double[][] x, double[] y, List<String> notes) {
        int k = x[0].length;
        boolean[] active = new boolean[k];
        java.util.Arrays.fill(active, true);
        String[] names = {"GEMM", "attention", "per-layer overhead", "per-chunk overhead"};
        while (true) {
            double[] c = solve(x, y, active);
            int worst = -1;
            for (int j = 0; j < k; j++) {
                if (active[j] && c[j] < 0 && (worst < 0 || c[j] < c[worst])) {
                    worst = j;
                }
            }
            if (worst < 0) {
                return c;
            }
            active[worst] = false;
            notes.add("the fit wanted a negative " + names[worst] + " term; fixed it at 0");
        }
    }

    private static double[] solve(double[][] x, double[] y, boolean[] active) {
        int k = active.length;
        List<Integer> cols = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            if (active[j]) {
                cols.add(j);
            }
        }
        int q = cols.size();
        double[] out = new double[k];
        if (q == 0) {
            return out;
        }
        // normal equations with column scaling, Gaussian elimination with partial pivoting
        double[] scale = new double[q];
        for (int a = 0; a < q; a++) {
            for (double[] row : x) {
                scale[a] = Math.max(scale[a], Math.abs(row[cols.get(a)]));
            }
            if (scale[a] == 0) {
                scale[a] = 1;
            }
        }
        double[][] m = new double[q][q + 1];
        for (int i = 0; i < x.length; i++) {
            for (int a = 0; a < q; a++) {
                double xa = x[i][cols.get(a)] / scale[a];
                for (int b = 0; b < q; b++) {
                    m[a][b] += xa * x[i][cols.get(b)] / scale[b];
                }
                m[a][q] += xa * y[i];
            }
        }
        for (int col = 0; col < q; col++) {
            int piv = col;
            for (int r = col + 1; r < q; r++) {
                if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) {
                    piv = r;
                }
            }
            double[] t = m[col];
            m[col] = m[piv];
            m[piv] = t;
            if (Math.abs(m[col][col]) < 1e-12) {
                throw new IllegalArgumentException("the calibration samples cannot separate the GEMM, attention and "
                        + "overhead terms: give samples at several chunk sizes and prefixes");
            }
            for (int r = 0; r < q; r++) {
                if (r != col) {
                    double f = m[r][col] / m[col][col];
                    for (int c = col; c <= q; c++) {
                        m[r][c] -= f * m[col][c];
                    }
                }
            }
        }
        for (int a = 0; a < q; a++) {
            out[cols.get(a)] = m[a][q] / m[a][a] / scale[a];
        }
        return out;
    }
}
