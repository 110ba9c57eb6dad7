package io.pipefill.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Every tensor a Hugging Face checkpoint of a config holds, with its shape and its role, in checkpoint order: the
 * one list the model generator writes and computed (random) weights answer from, so that a family's tensors are
 * named in one place. FP8 scales are not listed: they belong to how a projection is stored, not to the model.
 */
public final class CheckpointTensors {

    /** What a tensor is for, which decides how random weights are drawn for it. */
    public enum Role {
        EMBEDDING,
        /** RMSNorm weights, around 1. */
        NORM,
        /** Attention biases, small offsets around 0. */
        BIAS,
        /** A linear layer whose output stays inside the block. */
        PROJECTION,
        /** A linear layer that writes into the residual stream (o_proj, down_proj). */
        RESIDUAL_PROJECTION,
        /** A mixture-of-experts router, kept in BF16 by FP8 checkpoints. */
        ROUTER,
        /** DeepSeek-V3's router score correction, float32 in the published checkpoints. */
        CORRECTION_BIAS,
        LM_HEAD
    }

    public record Tensor(String name, long[] shape, Role role) {
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** The input width of a matrix (its fan-in), or the length of a vector. */
        public long columns() {
            return shape[shape.length - 1];
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    private CheckpointTensors() {
    }

    public static List<Tensor> of(ModelConfig c) {
        List<Tensor> out = new ArrayList<>();
        long h = c.hiddenSize();
        out.add(new Tensor(WeightNames.EMBED, new long[] {c.vocabSize(), h}, Role.EMBEDDING));
        for (int l = 0; l < c.numLayers(); l++) {
            out.add(new Tensor(WeightNames.inputNorm(l), new long[] {h}, Role.NORM));
            if (c.mla() != null) {
                latentAttention(out, c, l);
            } else {
                attention(out, c, l);
            }
            out.add(new Tensor(WeightNames.postAttentionNorm(l), new long[] {h}, Role.NORM));
            if (c.isSparseLayer(l)) {
                MoeConfig m = c.moe();
                long ei = m.expertIntermediateSize();
                out.add(new Tensor(WeightNames.router(l), new long[] {m.numExperts(), h}, Role.ROUTER));
                if (m.routing().correctionBias()) {
                    out.add(new Tensor(WeightNames.routerCorrectionBias(l), new long[] {m.numExperts()}, Role.CORRECTION_BIAS));
                }
                for (int e = 0; e < m.numExperts(); e++) {
                    swiGlu(out, WeightNames.expert(l, e, "gate_proj"), WeightNames.expert(l, e, "up_proj"),
                            WeightNames.expert(l, e, "down_proj"), ei, h);
                }
                if (m.sharedExperts() > 0) {
                    swiGlu(out, WeightNames.sharedExpert(l, "gate_proj"), WeightNames.sharedExpert(l, "up_proj"),
                            WeightNames.sharedExpert(l, "down_proj"), m.sharedIntermediateSize(), h);
                }
            } else {
                swiGlu(out, WeightNames.mlp(l, "gate_proj"), WeightNames.mlp(l, "up_proj"), WeightNames.mlp(l, "down_proj"),
                        c.intermediateSize(), h);
            }
        }
        out.add(new Tensor(WeightNames.FINAL_NORM, new long[] {h}, Role.NORM));
        if (!c.tieWordEmbeddings()) {
            out.add(new Tensor(WeightNames.LM_HEAD, new long[] {c.vocabSize(), h}, Role.LM_HEAD));
        }
        return out;
    }

    private static void attention(List<Tensor> out, ModelConfig c, int l) {
        long h = c.hiddenSize();
        out.add(new Tensor(WeightNames.attn(l, "q_proj"), new long[] {c.qDim(), h}, Role.PROJECTION));
        out.add(new Tensor(WeightNames.attn(l, "k_proj"), new long[] {c.kvDim(), h}, Role.PROJECTION));
        out.add(new Tensor(WeightNames.attn(l, "v_proj"), new long[] {c.kvDim(), h}, Role.PROJECTION));
        if (c.qkvBias()) {
            out.add(new Tensor(WeightNames.attnBias(l, "q_proj"), new long[] {c.qDim()}, Role.BIAS));
            out.add(new Tensor(WeightNames.attnBias(l, "k_proj"), new long[] {c.kvDim()}, Role.BIAS));
            out.add(new Tensor(WeightNames.attnBias(l, "v_proj"), new long[] {c.kvDim()}, Role.BIAS));
        }
        if (c.qkNorm()) {
            out.add(new Tensor(WeightNames.qNorm(l), new long[] {c.headDim()}, Role.NORM));
            out.add(new Tensor(WeightNames.kNorm(l), new long[] {c.headDim()}, Role.NORM));
        }
        out.add(new Tensor(WeightNames.attn(l, "o_proj"), new long[] {h, c.qDim()}, Role.RESIDUAL_PROJECTION));
        if (c.oBias()) {
            out.add(new Tensor(WeightNames.attnBias(l, "o_proj"), new long[] {h}, Role.BIAS));
        }
    }

    private static void latentAttention(List<Tensor> out, ModelConfig c, int l) {
        MlaConfig a = c.mla();
        long h = c.hiddenSize();
        long heads = c.numHeads();
        if (a.hasQLora()) {
            out.add(new Tensor(WeightNames.attn(l, "q_a_proj"), new long[] {a.qLoraRank(), h}, Role.PROJECTION));
            out.add(new Tensor(WeightNames.attnNorm(l, "q_a_layernorm"), new long[] {a.qLoraRank()}, Role.NORM));
            out.add(new Tensor(WeightNames.attn(l, "q_b_proj"), new long[] {heads * a.qkHeadDim(), a.qLoraRank()},
                    Role.PROJECTION));
        } else {
            out.add(new Tensor(WeightNames.attn(l, "q_proj"), new long[] {heads * a.qkHeadDim(), h}, Role.PROJECTION));
        }
        out.add(new Tensor(WeightNames.attn(l, "kv_a_proj_with_mqa"), new long[] {a.compressedKvDim(), h}, Role.PROJECTION));
        out.add(new Tensor(WeightNames.attnNorm(l, "kv_a_layernorm"), new long[] {a.kvLoraRank()}, Role.NORM));
        out.add(new Tensor(WeightNames.attn(l, "kv_b_proj"), new long[] {heads * (a.qkNopeHeadDim() + a.vHeadDim()),
                a.kvLoraRank()}, Role.PROJECTION));
        out.add(new Tensor(WeightNames.attn(l, "o_proj"), new long[] {h, heads * a.vHeadDim()}, Role.RESIDUAL_PROJECTION));
    }

    private static void swiGlu(List<Tensor> out, String gate, String up, String down, long inter, long h) {
        out.add(new Tensor(gate, new long[] {inter, h}, Role.PROJECTION));
        out.add(new Tensor(up, new long[] {inter, h}, Role.PROJECTION));
        out.add(new Tensor(down, new long[] {h, inter}, Role.RESIDUAL_PROJECTION));
    }
}
