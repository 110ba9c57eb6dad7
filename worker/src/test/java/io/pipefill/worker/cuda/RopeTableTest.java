package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.Architecture;
import io.pipefill.model.Chunk;
import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.RopeScaling;
import io.pipefill.worker.engine.RotaryEmbedding;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The RoPE table a CUDA stage uploads once at load, read the way rope.cu reads it (row pos0 + r), against the
 * tables the CPU engine computes per chunk (bit for bit), and against a float64 reference written here from
 * Hugging Face's formulas (within half a float ulp of the largest value, the rounding to float, plus 1e-9 for the
 * angle's double rounding at 1M positions), for plain, llama3 and yarn scaling.
 */
class RopeTableTest {
    private static final ModelConfig PLAIN = ModelPreset.SMALL.config(Architecture.LLAMA);
    private static final ModelConfig LLAMA3 = ModelPreset.EIGHT_B_SHAPE.config(Architecture.LLAMA);
    /** mscale 1.0 and mscale_all_dim 0.8: a cos/sin factor of 1.025. */
    private static final ModelConfig YARN = ModelPreset.TINY.config(Architecture.DEEPSEEK_V3);

    @Test
    void theConfigsCoverEveryScaling() {
        assertNull(PLAIN.ropeScaling());
        assertEquals(RopeScaling.Type.LLAMA3, LLAMA3.ropeScaling().type());
        assertEquals(RopeScaling.Type.YARN, YARN.ropeScaling().type());
        assertTrue(YARN.ropeScaling().cosSinFactor() != 1.0, "yarn's cos/sin factor is exercised");
    }

    /** Every chunk of several schedules, slab boundaries crossed, reads exactly the CPU engine's per-chunk table. */
    @Test
    void everyChunkReadsTheCpuEnginesTableBitForBit() {
        int capacity = 3 * RopeTable.SLAB_POSITIONS + 123;
        for (ModelConfig config : List.of(PLAIN, LLAMA3, YARN)) {
            RotaryEmbedding rope = new RotaryEmbedding(config);
            int half = config.headDim() / 2;
            float[][] device = deviceTables(rope, capacity, half);
            List<ChunkSchedule> schedules = List.of(ChunkSchedule.fixed(capacity, 512), ChunkSchedule.fixed(capacity, capacity),
                    ChunkSchedule.ofSizes(List.of(1, 4095, 2, 4097, 777, capacity - 1 - 4095 - 2 - 4097 - 777 - 1, 1)));
            for (ChunkSchedule schedule : schedules) {
                assertEquals(capacity, schedule.promptTokens(), "each schedule covers the capacity");
                for (Chunk ch : schedule.chunks()) {
                    RotaryEmbedding.Table cpu = rope.table(ch.offset(), ch.size());
                    for (int r = 0; r < ch.size(); r++) {
                        for (int i = 0; i < half; i++) {
                            long at = RopeTable.index(ch.offset(), r, i, half);
                            assertBits(cpu.cos()[r * half + i], device[0][(int) at], config, "cos", ch.offset() + r, i);
                            assertBits(cpu.sin()[r * half + i], device[1][(int) at], config, "sin", ch.offset() + r, i);
                        }
                    }
                }
            }
        }
    }

    /**
     * Rows at short and long positions (near 128K and 1M) against float64 RoPE from Hugging Face's formulas (its
     * own arithmetic is float32, which at 1M positions is off by ~0.06 rad, so the reference is the exact math).
     */
    @Test
    void positionsUpTo1MMatchAFloat64ReferenceToFloatRounding() {
        for (ModelConfig config : List.of(PLAIN, LLAMA3, YARN)) {
            RotaryEmbedding rope = new RotaryEmbedding(config);
            int half = config.headDim() / 2;
            double[] invFreq = hfInvFreq(config);
            double factor = hfCosSinFactor(config.ropeScaling());
            double tolerance = 0.5 * Math.ulp((float) factor) + 1e-9;
            for (int capacity : new int[] {131_072, 1_048_576}) {
                // the table's first slab and its last, whose last rows are the capacity's last positions
                for (int first : new int[] {0, (capacity - 1) / RopeTable.SLAB_POSITIONS * RopeTable.SLAB_POSITIONS}) {
                    RotaryEmbedding.Table t = RopeTable.slab(rope, first, capacity);
                    int rows = t.cos().length / half;
                    for (int r : new int[] {0, 1, rows / 2, rows - 2, rows - 1}) {
                        long p = (long) first + r;
                        for (int i = 0; i < half; i++) {
                            double angle = p * invFreq[i];
                            double c = Math.cos(angle) * factor;
                            double s = Math.sin(angle) * factor;
                            float tc = t.cos()[r * half + i];
                            float ts = t.sin()[r * half + i];
                            assertTrue(Math.abs(tc - c) <= tolerance, config.architecture() + " cos at " + p + " pair " + i
                                    + ": " + tc + " vs " + c);
                            assertTrue(Math.abs(ts - s) <= tolerance, config.architecture() + " sin at " + p + " pair " + i
                                    + ": " + ts + " vs " + s);
                        }
                    }
                }
            }
        }
    }

    @Test
    void sizeIsCapacityTimesHeadDimTimesFourBytes() {
        assertEquals(64L << 20, RopeTable.bytes(128 * 1024, 128), "128K positions at head dim 128: 64 MiB");
        assertEquals(512L << 20, RopeTable.bytes(1 << 20, 128), "1M positions at head dim 128: 512 MiB");
        assertEquals(RopeTable.bytes(1000, 64) / 2, RopeTable.tableBytes(1000, 64));
    }

    @Test
    void slabsArriveInOrderAndCoverTheCapacityOnce() {
        RotaryEmbedding rope = new RotaryEmbedding(PLAIN);
        List<int[]> slabs = new ArrayList<>();
        RopeTable.fill(rope, 2 * RopeTable.SLAB_POSITIONS + 1, (first, slab) -> slabs.add(new int[] {first, slab.cos().length / slab.half()}));
        assertEquals(3, slabs.size());
        assertEquals(List.of(0, RopeTable.SLAB_POSITIONS, 2 * RopeTable.SLAB_POSITIONS), slabs.stream().map(s -> s[0]).toList());
        assertEquals(List.of(RopeTable.SLAB_POSITIONS, RopeTable.SLAB_POSITIONS, 1), slabs.stream().map(s -> s[1]).toList());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RopeTable.fill(rope, 0, (f, s) -> { }));
        assertTrue(e.getMessage().contains("positive KV capacity, got 0"), e.getMessage());
        IllegalArgumentException odd = assertThrows(IllegalArgumentException.class, () -> RopeTable.slab(rope, 100, 8192));
        assertTrue(odd.getMessage().contains("multiple of 4096 below the capacity 8192, got 100"), odd.getMessage());
    }

    /** The two tables as the stage's slab uploads lay them out on the device: slab at first × half. */
    private static float[][] deviceTables(RotaryEmbedding rope, int capacity, int half) {
        float[][] device = {new float[capacity * half], new float[capacity * half]};
        RopeTable.fill(rope, capacity, (first, slab) -> { // where CudaStage uploads each slab, in floats
            int at = Math.toIntExact(RopeTable.byteOffset(first, 2 * half) / Float.BYTES);
            System.arraycopy(slab.cos(), 0, device[0], at, slab.cos().length);
            System.arraycopy(slab.sin(), 0, device[1], at, slab.sin().length);
        });
        return device;
    }

    private static void assertBits(float expected, float actual, ModelConfig config, String what, int position, int pair) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                () -> config.architecture() + " " + what + " at position " + position + " pair " + pair + ": CPU " + expected
                        + ", device table " + actual);
    }

    /**
     * inv_freq as transformers' rope_init_fn computes it (modeling_rope_utils: default, _compute_llama3_parameters,
     * _compute_yarn_parameters with truncate true), written out here independently of RopeScaling.
     */
    private static double[] hfInvFreq(ModelConfig config) {
        int dim = config.headDim();
        int half = dim / 2;
        double base = config.ropeTheta();
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(base, (double) (2 * i) / dim);
        }
        RopeScaling s = config.ropeScaling();
        if (s == null) {
            return inv;
        }
        if (s.type() == RopeScaling.Type.LLAMA3) {
            double oldContext = s.originalMaxPositionEmbeddings();
            double lowWavelen = oldContext / s.lowFreqFactor();
            double highWavelen = oldContext / s.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                double llama = wavelen > lowWavelen ? inv[i] / s.factor() : inv[i];
                double smooth = (oldContext / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                double smoothed = (1 - smooth) * llama / s.factor() + smooth * llama;
                boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
                inv[i] = medium ? smoothed : llama;
            }
            return inv;
        }
        double low = Math.max(Math.floor(correctionDim(s.betaFast(), dim, base, s.originalMaxPositionEmbeddings())), 0);
        double high = Math.min(Math.ceil(correctionDim(s.betaSlow(), dim, base, s.originalMaxPositionEmbeddings())), dim - 1);
        if (low == high) {
            high += 0.001;
        }
        for (int i = 0; i < half; i++) {
            double posFreq = Math.pow(base, (double) (2 * i) / dim);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolationFactor = 1 - ramp;
            double interpolation = 1.0 / (s.factor() * posFreq);
            inv[i] = interpolation * (1 - extrapolationFactor) + inv[i] * extrapolationFactor;
        }
        return inv;
    }

    private static double correctionDim(double rotations, int dim, double base, int maxPositions) {
        return (dim * Math.log(maxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }

    /** attention_factor: get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) for yarn, else 1. */
    private static double hfCosSinFactor(RopeScaling s) {
        if (s == null || s.type() != RopeScaling.Type.YARN) {
            return 1.0;
        }
        return mscale(s.factor(), s.mscale()) / mscale(s.factor(), s.mscaleAllDim());
    }

    private static double mscale(double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
    }
}
