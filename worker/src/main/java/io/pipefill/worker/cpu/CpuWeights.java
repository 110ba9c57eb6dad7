package io.pipefill.worker.cpu;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.WeightLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One stage's weights (its tensor-parallel slice of each, as {@link WeightLayout} plans them) converted to
 * float32: big matrices in native memory for BLAS (q/k/v and gate/up fused so that each is one GEMM), norms
 * and biases on the heap.
 */
final class CpuWeights implements AutoCloseable {

    /**
     * One decoder layer. Fused rows: [q; k; v] and [gate; up], each in PyTorch's [out × in] layout. A sparse
     * layer has {@code moe} instead of gateUp/down; a latent-attention layer {@code latent} instead of qkv.
     */
    record Layer(float[] inputNorm, NativeFloats qkv, float[] qkvBias, float[] qNorm, float[] kNorm,
                 NativeFloats o, float[] oBias, float[] postNorm, NativeFloats gateUp, NativeFloats down, Moe moe,
                 Latent latent) {
    }

    /**
     * A sparse MLP: router [experts × hidden], its score correction (null unless DeepSeek-V3), each expert's fused
     * [gate; up] and down slices, and the shared experts' (null when there are none).
     */
    record Moe(NativeFloats router, float[] correctionBias, List<NativeFloats> gateUp, List<NativeFloats> down,
               NativeFloats sharedGateUp, NativeFloats sharedDown) {
    }

    /** Latent attention: qA, qANorm and qB, or q; kvA (latent and rotary key), kvANorm, kvB ({@link WeightLayout.Latent}). */
    record Latent(NativeFloats qA, float[] qANorm, NativeFloats qB, NativeFloats q, NativeFloats kvA, float[] kvANorm,
                  NativeFloats kvB) {
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
            w.loadAll(WeightLayout.plan(c, shard, tp, ckpt));
            return w;
        } catch (RuntimeException | OutOfMemoryError e) {
            w.close();
            throw e;
        }
    }

    private void loadAll(WeightLayout.Stage plan) {
        if (plan.embedding() != null) {
            embedding = matrix(plan.embedding());
        }
        for (WeightLayout.Layer l : plan.layers()) {
            layers.add(new Layer(vector(l.inputNorm()), matrixOrNull(l.qkv()), vector(l.qkvBias()), vector(l.qNorm()),
                    vector(l.kNorm()), matrix(l.o()), vector(l.oBias()), vector(l.postNorm()), matrixOrNull(l.gateUp()),
                    matrixOrNull(l.down()), moe(l.moe()), latent(l.latent())));
        }
        if (plan.lmHead() != null) {
            finalNorm = vector(plan.finalNorm());
            lmHead = plan.lmHeadIsEmbedding() ? embedding : matrix(plan.lmHead());
        }
    }

    private Moe moe(WeightLayout.Moe moe) {
        if (moe == null) {
            return null;
        }
        List<NativeFloats> gateUp = new ArrayList<>();
        List<NativeFloats> down = new ArrayList<>();
        for (WeightLayout.Expert e : moe.experts()) {
            gateUp.add(matrix(e.gateUp()));
            down.add(matrix(e.down()));
        }
        WeightLayout.Expert shared = moe.shared();
        return new Moe(matrix(moe.router()), vector(moe.correctionBias()), List.copyOf(gateUp), List.copyOf(down),
                shared == null ? null : matrix(shared.gateUp()), shared == null ? null : matrix(shared.down()));
    }

    private Latent latent(WeightLayout.Latent a) {
        if (a == null) {
            return null;
        }
        return new Latent(matrixOrNull(a.qA()), vector(a.qANorm()), matrixOrNull(a.qB()), matrixOrNull(a.q()),
                matrix(a.kvA()), vector(a.kvANorm()), matrix(a.kvB()));
    }

    private NativeFloats matrixOrNull(WeightLayout.Buffer buffer) {
        return buffer == null ? null : matrix(buffer);
    }

    private NativeFloats matrix(WeightLayout.Buffer buffer) {
        NativeFloats dst = new NativeFloats(buffer.elements());
        owned.add(dst);
        bytes += dst.bytes();
        WeightLayout.read(ckpt, buffer, (at, values, count) -> dst.put(at, values, 0, count));
        return dst;
    }

    /** A small buffer on the heap; null for the ones the architecture does not have. */
    private float[] vector(WeightLayout.Buffer buffer) {
        if (buffer == null) {
            return null;
        }
        bytes += buffer.elements() * Float.BYTES;
        return WeightLayout.readAll(ckpt, buffer);
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
