package io.pipefill.worker.cpu;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.WeightNames;
import io.pipefill.worker.safetensors.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * One stage's weights converted to float32: big matrices in native memory for BLAS (q/k/v and gate/up fused
 * so that each is one GEMM), norms and biases on the heap.
 */
final class CpuWeights implements AutoCloseable {

    /** One decoder layer. Fused rows: [q; k; v] and [gate; up], each in PyTorch's [out × in] layout. */
    record Layer(float[] inputNorm, NativeFloats qkv, float[] qkvBias, float[] qNorm, float[] kNorm,
                 NativeFloats o, float[] oBias, float[] postNorm, NativeFloats gateUp, NativeFloats down) {
    }

    final List<Layer> layers = new ArrayList<>();
    NativeFloats embedding;
    float[] finalNorm;
    NativeFloats lmHead;
    private final List<NativeFloats> owned = new ArrayList<>();
    private long bytes;

    static CpuWeights load(ModelConfig c, StageShard shard, Checkpoint ckpt) {
        CpuWeights w = new CpuWeights();
        try {
            w.loadAll(c, shard, ckpt);
            return w;
        } catch (RuntimeException | OutOfMemoryError e) {
            w.close();
            throw e;
        }
    }

    private void loadAll(ModelConfig c, StageShard shard, Checkpoint ckpt) {
        long h = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long inter = c.intermediateSize();
        if (shard.embedding()) {
            embedding = matrix(ckpt, c.vocabSize() * h, ckpt.require(WeightNames.EMBED, c.vocabSize(), h));
        }
        for (int l = shard.firstLayer(); l < shard.endLayer(); l++) {
            float[] inNorm = vector(ckpt, ckpt.require(WeightNames.inputNorm(l), h));
            NativeFloats qkv = matrix(ckpt, (q + 2 * kv) * h,
                    ckpt.require(WeightNames.attn(l, "q_proj"), q, h),
                    ckpt.require(WeightNames.attn(l, "k_proj"), kv, h),
                    ckpt.require(WeightNames.attn(l, "v_proj"), kv, h));
            float[] qkvBias = null;
            if (c.qkvBias()) {
                qkvBias = concat(vector(ckpt, ckpt.require(WeightNames.attnBias(l, "q_proj"), q)),
                        vector(ckpt, ckpt.require(WeightNames.attnBias(l, "k_proj"), kv)),
                        vector(ckpt, ckpt.require(WeightNames.attnBias(l, "v_proj"), kv)));
            }
            float[] qNorm = null;
            float[] kNorm = null;
            if (c.qkNorm()) {
                qNorm = vector(ckpt, ckpt.require(WeightNames.qNorm(l), c.headDim()));
                kNorm = vector(ckpt, ckpt.require(WeightNames.kNorm(l), c.headDim()));
            }
            NativeFloats o = matrix(ckpt, h * q, ckpt.require(WeightNames.attn(l, "o_proj"), h, q));
            float[] oBias = c.oBias() ? vector(ckpt, ckpt.require(WeightNames.attnBias(l, "o_proj"), h)) : null;
            float[] postNorm = vector(ckpt, ckpt.require(WeightNames.postAttentionNorm(l), h));
            NativeFloats gateUp = matrix(ckpt, 2 * inter * h,
                    ckpt.require(WeightNames.mlp(l, "gate_proj"), inter, h),
                    ckpt.require(WeightNames.mlp(l, "up_proj"), inter, h));
            NativeFloats down = matrix(ckpt, h * inter, ckpt.require(WeightNames.mlp(l, "down_proj"), h, inter));
            layers.add(new Layer(inNorm, qkv, qkvBias, qNorm, kNorm, o, oBias, postNorm, gateUp, down));
        }
        if (shard.head()) {
            finalNorm = vector(ckpt, ckpt.require(WeightNames.FINAL_NORM, h));
            if (c.tieWordEmbeddings()) {
                lmHead = embedding != null ? embedding
                        : matrix(ckpt, c.vocabSize() * h, ckpt.require(WeightNames.EMBED, c.vocabSize(), h));
            } else {
                lmHead = matrix(ckpt, c.vocabSize() * h, ckpt.require(WeightNames.LM_HEAD, c.vocabSize(), h));
            }
        }
    }

    private NativeFloats matrix(Checkpoint ckpt, long total, TensorInfo... parts) {
        NativeFloats dst = new NativeFloats(total);
        owned.add(dst);
        bytes += dst.bytes();
        float[] block = new float[1 << 16];
        long at = 0;
        for (TensorInfo t : parts) {
            long n = t.elementCount();
            for (long first = 0; first < n; first += block.length) {
                int count = (int) Math.min(block.length, n - first);
                ckpt.readFloats(t, first, block, 0, count);
                dst.put(at + first, block, 0, count);
            }
            at += n;
        }
        if (at != total) {
            throw new IllegalStateException("fused matrix expected " + total + " elements, read " + at);
        }
        return dst;
    }

    private float[] vector(Checkpoint ckpt, TensorInfo t) {
        bytes += t.elementCount() * Float.BYTES;
        return ckpt.readAll(t);
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
