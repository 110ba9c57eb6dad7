package io.pipefill.worker;

import io.pipefill.model.StageShard;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.launch.SingleProcessPrefill;
import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** The committed tiny models and helpers to run them. */
public final class TestModels {
    private TestModels() {
    }

    public static Path committed(String name) {
        try {
            return Path.of(TestModels.class.getResource("/models/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test model " + name + " not on the classpath", e);
        }
    }

    public static Path golden(String name) {
        try {
            return Path.of(TestModels.class.getResource("/golden/" + name + ".json").toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("golden " + name + " not on the classpath", e);
        }
    }

    /** Runs a whole-model prefill on the CPU backend. */
    public static PrefillResult prefill(Path modelDir, int[] tokens, int chunk, int maxNewTokens, int threads) {
        ModelDirectory md = ModelDirectory.open(modelDir);
        PrefillRequest req = new PrefillRequest(tokens, chunk, maxNewTokens);
        try (CpuBackend backend = new CpuBackend(threads); Checkpoint ckpt = Checkpoint.open(md.path());
             Stage stage = backend.loadStage(md.config(), StageShard.whole(md.config()), ckpt, req.kvPositions())) {
            return new SingleProcessPrefill(md.config(), stage).run(req, ProgressListener.NONE);
        }
    }

    /** max |a - b| / max |b|: the error relative to the scale of the reference logits. */
    public static double relativeError(float[] actual, double[] reference) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        return maxDiff / maxRef;
    }

    public static double relativeError(float[] actual, float[] reference) {
        double[] r = new double[reference.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = reference[i];
        }
        return relativeError(actual, r);
    }
}
