package io.pipefill.worker.model;

import io.pipefill.model.CheckpointTensors;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.TensorInfo;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Weights of a model shape computed instead of read: every element is a pure function of (seed, tensor name,
 * element index), so the CPU backend can compute it here and the CUDA backend on the device (random_fill.cu,
 * the same arithmetic bit for bit) without a file. For throughput runs of shapes too large to generate and
 * carry (8b-shape is 16 GB in BF16).
 *
 * <p>Means and standard deviations follow {@link io.pipefill.model.create.ModelGenerator} (projections
 * 1/√fan_in, residual writers further 1/√(2·layers), norms 1 ± 0.1, lm_head gain 2), so activations stay as
 * bounded as in a generated model. The values themselves differ from a generated model of the same seed:
 * the generator draws from SplittableRandom streams, which a GPU cannot reproduce element by element.
 */
public final class RandomWeights {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** Uniform values around {@code mean}, in [mean − halfWidth, mean + halfWidth). */
    public record Init(float mean, float halfWidth) {
    }

    private final ModelConfig config;
    private final long seed;
    /** The model's tensors by name, listed once. */
    private final Map<String, CheckpointTensors.Tensor> tensors = new LinkedHashMap<>();

    public RandomWeights(ModelConfig config, long seed) {
        this.config = config;
        this.seed = seed;
        CheckpointTensors.of(config).forEach(t -> tensors.put(t.name(), t));
    }

    public long seed() {
        return seed;
    }

    /** Every tensor of the model and its shape, in the order of a Hugging Face checkpoint. */
    static Map<String, long[]> shapes(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        CheckpointTensors.of(c).forEach(t -> m.put(t.name(), t.shape()));
        return m;
    }

    public boolean contains(String tensor) {
        return tensors.containsKey(tensor);
    }

    /** A header entry for the tensor (BF16, as if stored), after the same shape check as a file's. */
    public TensorInfo require(String tensor, long... expectedShape) {
        CheckpointTensors.Tensor t = tensors.get(tensor);
        if (t == null) {
            throw new SafetensorsException("random weights (seed " + seed + "): the " + config.architecture().hfName()
                    + " shape has no tensor '" + tensor + "'");
        }
        long[] shape = t.shape();
        if (!Arrays.equals(shape, expectedShape)) {
            throw new SafetensorsException("random weights (seed " + seed + "): tensor '" + tensor + "' has shape "
                    + Arrays.toString(shape) + " but " + Arrays.toString(expectedShape) + " was expected");
        }
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        return new TensorInfo(tensor, DType.BF16, shape, 0, 2 * n);
    }

    /** The distribution of a tensor, by its role (the generator's scales). */
    public Init init(String tensor) {
        CheckpointTensors.Tensor t = tensors.get(tensor);
        if (t == null) {
            throw new IllegalArgumentException("no tensor '" + tensor + "' in this model shape");
        }
        double residual = 1.0 / Math.sqrt(2.0 * config.numLayers());
        long fanIn = t.columns();
        switch (t.role()) {
            case EMBEDDING:
                return uniform(0, 1.0);
            case LM_HEAD:
                return uniform(0, 2.0 / Math.sqrt(fanIn));
            case NORM:
                return uniform(1.0, 0.1);
            case BIAS:
            case CORRECTION_BIAS:
                return uniform(0, 0.1);
            case RESIDUAL_PROJECTION:
                return uniform(0, residual / Math.sqrt(fanIn));
            default:
                return uniform(0, 1.0 / Math.sqrt(fanIn));
        }
    }

    private static Init uniform(double mean, double std) {
        return new Init((float) mean, (float) (Math.sqrt(3.0) * std));
    }

    /** The per-tensor seed handed to the fill kernel: the model seed mixed with the tensor's name. */
    public long tensorSeed(String tensor) {
        return mix(seed * GOLDEN ^ mix(tensor.hashCode() + GOLDEN));
    }

    /** Elements [first, first + count) of a tensor as float32 (BF16-exact values). */
    void readFloats(TensorInfo tensor, long first, float[] dst, int dstOffset, int count) {
        Init init = init(tensor.name());
        long s = tensorSeed(tensor.name());
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = DType.bf16ToFloat(value(s, first + i, init));
        }
    }

    /**
     * Element {@code index} of a tensor with seed {@code tensorSeed}, as BF16 bits. random_fill.cu computes
     * exactly this: splitmix64 of the index, its top 24 bits as u in [0, 1), mean + halfWidth·(2u − 1) with
     * two float roundings (no fused multiply-add), then BF16 round-to-nearest-even.
     */
    public static short value(long tensorSeed, long index, Init init) {
        long z = mix(tensorSeed + (index + 1) * GOLDEN);
        float u = (z >>> 40) * 0x1.0p-24f;
        float x = 2.0f * u - 1.0f;  // exact: u has 24 significant bits
        float product = init.halfWidth() * x;
        return DType.floatToBf16(init.mean() + product);
    }

    /** The splitmix64 finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
