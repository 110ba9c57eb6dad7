package io.pipefill.worker.cpu;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.WeightNames;
import io.pipefill.worker.safetensors.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * One stage's weights (its tensor-parallel slice of each) converted to float32: big matrices in native
 * memory for BLAS (q/k/v and gate/up fused so that each is one GEMM), norms and biases on the heap.
 */
final class CpuWeights implements AutoCloseable {

    /** One decoder layer. Fused rows: [q; k; v] and [gate; up], each in PyTorch's [out × in] layout. */
    record Layer(float[] inputNorm, NativeFloats qkv, float[] qkvBias, float[] qNorm, float[] kNorm,
                 NativeFloats o, float[] oBias, float[] postNorm, NativeFloats gateUp, NativeFloats down) {
    }

    /** A block of a 2-D tensor: rows [row0, row0 + rowCount) × columns [col0, col0 + colCount). */
    private record Slice(TensorInfo tensor, long row0, long rowCount, long col0, long colCount) {
        static Slice whole(TensorInfo t) {
            return new Slice(t, 0, t.shape()[0], 0, t.shape()[1]);
        }

        static Slice rows(TensorInfo t, long row0, long count) {
            return new Slice(t, row0, count, 0, t.shape()[1]);
        }

        static Slice cols(TensorInfo t, long col0, long count) {
            return new Slice(t, 0, t.shape()[0], col0, count);
        }

        long elements() {
            return rowCount * colCount;
        }
    }

    final List<Layer> layers = new ArrayList<>();
    NativeFloats embedding;
    float[] finalNorm;
    NativeFloats lmHead;
    private final Checkpoint ckpt;
    private final List<NativeFloats> owned = new ArrayList<>();
    private long bytes;

    private CpuWeights(Checkpoint ckpt) {
        this.ckpt = ckpt;
    }

    static CpuWeights load(ModelConfig c, StageShard shard, TensorParallel tp, Checkpoint ckpt) {
        CpuWeights w = new CpuWeights(ckpt);
        try {
            w.loadAll(c, shard, tp);
            return w;
        } catch (RuntimeException | OutOfMemoryError e) {
            w.close();
            throw e;
        }
    }

    private void loadAll(ModelConfig c, StageShard shard, TensorParallel tp) {
        long h = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long inter = c.intermediateSize();
        // this rank's share: whole query heads, whole key/value heads, a range of MLP features
        long q0 = tp.start(c.qDim());
        long qn = tp.count(c.qDim());
        long kv0 = tp.start(c.kvDim());
        long kvn = tp.count(c.kvDim());
        long i0 = tp.start(c.intermediateSize());
        long in = tp.count(c.intermediateSize());
        if (shard.embedding()) {
            embedding = matrix(Slice.whole(ckpt.require(WeightNames.EMBED, c.vocabSize(), h)));
        }
        for (int l = shard.firstLayer(); l < shard.endLayer(); l++) {
            float[] inNorm = vector(ckpt.require(WeightNames.inputNorm(l), h), 0, h);
            NativeFloats qkv = matrix(
                    Slice.rows(ckpt.require(WeightNames.attn(l, "q_proj"), q, h), q0, qn),
                    Slice.rows(ckpt.require(WeightNames.attn(l, "k_proj"), kv, h), kv0, kvn),
                    Slice.rows(ckpt.require(WeightNames.attn(l, "v_proj"), kv, h), kv0, kvn));
            float[] qkvBias = null;
            if (c.qkvBias()) {
                qkvBias = concat(vector(ckpt.require(WeightNames.attnBias(l, "q_proj"), q), q0, qn),
                        vector(ckpt.require(WeightNames.attnBias(l, "k_proj"), kv), kv0, kvn),
                        vector(ckpt.require(WeightNames.attnBias(l, "v_proj"), kv), kv0, kvn));
            }
            float[] qNorm = null;
            float[] kNorm = null;
            if (c.qkNorm()) {
                qNorm = vector(ckpt.require(WeightNames.qNorm(l), c.headDim()), 0, c.headDim());
                kNorm = vector(ckpt.require(WeightNames.kNorm(l), c.headDim()), 0, c.headDim());
            }
            NativeFloats o = matrix(Slice.cols(ckpt.require(WeightNames.attn(l, "o_proj"), h, q), q0, qn));
            float[] oBias = c.oBias() ? vector(ckpt.require(WeightNames.attnBias(l, "o_proj"), h), 0, h) : null;
            float[] postNorm = vector(ckpt.require(WeightNames.postAttentionNorm(l), h), 0, h);
            NativeFloats gateUp = matrix(
                    Slice.rows(ckpt.require(WeightNames.mlp(l, "gate_proj"), inter, h), i0, in),
                    Slice.rows(ckpt.require(WeightNames.mlp(l, "up_proj"), inter, h), i0, in));
            NativeFloats down = matrix(Slice.cols(ckpt.require(WeightNames.mlp(l, "down_proj"), h, inter), i0, in));
            layers.add(new Layer(inNorm, qkv, qkvBias, qNorm, kNorm, o, oBias, postNorm, gateUp, down));
        }
        if (shard.head()) {
            finalNorm = vector(ckpt.require(WeightNames.FINAL_NORM, h), 0, h);
            if (c.tieWordEmbeddings()) {
                lmHead = embedding != null ? embedding : matrix(Slice.whole(ckpt.require(WeightNames.EMBED, c.vocabSize(), h)));
            } else {
                lmHead = matrix(Slice.whole(ckpt.require(WeightNames.LM_HEAD, c.vocabSize(), h)));
            }
        }
    }

    /** Stacks the slices' rows into one native [Σ rows × cols] matrix. */
    private NativeFloats matrix(Slice... parts) {
        long total = 0;
        for (Slice p : parts) {
            total += p.elements();
        }
        NativeFloats dst = new NativeFloats(total);
        owned.add(dst);
        bytes += dst.bytes();
        float[] block = new float[1 << 16];
        long at = 0;
        for (Slice p : parts) {
            long cols = p.tensor().shape()[1];
            if (p.colCount() == cols) {
                // whole rows are contiguous in the file: read them in large blocks
                long first = p.row0() * cols;
                long n = p.elements();
                for (long done = 0; done < n; done += block.length) {
                    int count = (int) Math.min(block.length, n - done);
                    ckpt.readFloats(p.tensor(), first + done, block, 0, count);
                    dst.put(at + done, block, 0, count);
                }
            } else {
                float[] row = new float[(int) p.colCount()];
                for (long r = 0; r < p.rowCount(); r++) {
                    ckpt.readFloats(p.tensor(), (p.row0() + r) * cols + p.col0(), row, 0, row.length);
                    dst.put(at + r * p.colCount(), row, 0, row.length);
                }
            }
            at += p.elements();
        }
        return dst;
    }

    /** Elements [start, start + count) of a 1-D tensor. */
    private float[] vector(TensorInfo t, long start, long count) {
        float[] out = new float[(int) count];
        ckpt.readFloats(t, start, out, 0, (int) count);
        bytes += count * Float.BYTES;
        return out;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        owned.forEach(NativeFloats::close);
        owned.clear();
    }
}
