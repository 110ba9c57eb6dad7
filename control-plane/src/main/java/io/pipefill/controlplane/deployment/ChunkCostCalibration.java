package io.pipefill.controlplane.deployment;

import io.pipefill.model.plan.MeasuredChunkCosts;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The chunk costs a {@code chunking: planned} deployment's schedules are optimised on, per stage
 * t(prefix, n) = c₀ + c₁·n + c₂·n·prefix + c₃·n² ms (n tokens after a prefix of that many) and the hidden-state send
 * d₀ + d₁·n ms — shared-model's {@link MeasuredChunkCosts}. Either given in the deployment request
 * ({@code source} "request") or measured by a calibration run on the deployment's own workers once its shards
 * are loaded ({@code source} "measured": the run's id, its chunk sizes and the fit's rms relative error).
 *
 * @param summary the curves in words, as {@code pipefill bench planned} prints them
 */
public record ChunkCostCalibration(String source, List<List<Double>> stageCoefficients, double sendFixedMs,
                                   double sendPerTokenMs, Double rmsRelativeError, UUID runId,
                                   List<Integer> calibrationChunks, String summary) {
    public static final String REQUEST = "request";
    public static final String MEASURED = "measured";

    /** A calibration given in the request. */
    public static ChunkCostCalibration given(CalibrationRequest r) {
        MeasuredChunkCosts c = new MeasuredChunkCosts(toArray(r.stageCoefficients()), r.sendFixedMsOrZero(),
                r.sendPerTokenMsOrZero(), Double.NaN);
        return new ChunkCostCalibration(REQUEST, copy(r.stageCoefficients()), r.sendFixedMsOrZero(),
                r.sendPerTokenMsOrZero(), null, null, null, describe(c));
    }

    /** A calibration fitted from the timeline of run {@code runId}, which ran {@code chunks}. */
    public static ChunkCostCalibration measured(MeasuredChunkCosts c, UUID runId, List<Integer> chunks) {
        List<List<Double>> coef = new ArrayList<>();
        for (double[] stage : c.stageCoefficients()) {
            coef.add(java.util.Arrays.stream(stage).boxed().toList());
        }
        return new ChunkCostCalibration(MEASURED, coef, c.sendFixedMs(), c.sendPerTokenMs(), c.rmsRelativeError(), runId,
                List.copyOf(chunks), c.describe());
    }

    /** The curves as shared-model's cost record, for the simulator and the optimiser. */
    public MeasuredChunkCosts costs() {
        return new MeasuredChunkCosts(toArray(stageCoefficients), sendFixedMs, sendPerTokenMs,
                rmsRelativeError == null ? Double.NaN : rmsRelativeError);
    }

    private static String describe(MeasuredChunkCosts c) {
        String s = c.describe();
        int rms = s.lastIndexOf("; rms error"); // a given calibration has no fit error to show
        return rms < 0 ? s : s.substring(0, rms);
    }

    private static List<List<Double>> copy(List<List<Double>> c) {
        return c.stream().map(List::copyOf).toList();
    }

    private static double[][] toArray(List<List<Double>> c) {
        double[][] out = new double[c.size()][];
        for (int s = 0; s < out.length; s++) {
            out[s] = c.get(s).stream().mapToDouble(Double::doubleValue).toArray();
        }
        return out;
    }
}
