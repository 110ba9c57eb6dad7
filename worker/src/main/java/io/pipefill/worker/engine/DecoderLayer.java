package io.pipefill.worker.engine;

import io.pipefill.model.ModelConfig;

/**
 * One decoder layer, written once for every backend: the sequence of {@link LayerOps} steps and every
 * architecture difference (q/k/v bias, per-head q/k norm, o_proj bias), decided here from the model's
 * configuration and nowhere else. Pre-norm Llama block:
 * x += o_proj(attention(rope(qkv(norm(x))))); x += mlp(norm(x)).
 *
 * <p>A model family adds its steps to {@link LayerOps} (each backend implements them) and its choice here:
 * the mixture-of-experts MLP ({@link LayerOps#moe}) replaces {@link LayerOps#mlp} on the sparse layers, multi-head
 * latent attention ({@link LayerOps#latentProjections}, {@link LayerOps#appendLatent},
 * {@link LayerOps#latentAttention}) replaces the q/k/v steps and {@link LayerOps#attention}; the norms, the
 * projections into the residual and the tensor-parallel sums stay where they are.
 */
public final class DecoderLayer {
    private final boolean qkvBias;
    private final boolean qkNorm;
    private final boolean oBias;
    private final ModelConfig config;
    /** Global index of the stage's first layer: which layers are sparse is a property of the model's layers. */
    private final int firstLayer;

    /** The layers of a stage that starts at the model's first layer. */
    public DecoderLayer(ModelConfig config) {
        this(config, 0);
    }

    public DecoderLayer(ModelConfig config, int firstLayer) {
        this.qkvBias = config.qkvBias();
        this.qkNorm = config.qkNorm();
        this.oBias = config.oBias();
        this.config = config;
        this.firstLayer = firstLayer;
    }

    /** Runs layer {@code layer} of the stage over the chunk {@code ops} is bound to. */
    public void run(LayerOps ops, int layer) {
        attentionBlock(ops, layer);
        mlpBlock(ops, layer);
    }

    private void attentionBlock(LayerOps ops, int layer) {
        if (config.mla() != null) {
            ops.attentionNorm(layer);
            ops.latentProjections(layer);
            ops.appendLatent(layer);
            ops.latentAttention(layer);
            ops.outputProjection(layer);
            return;
        }
        ops.attentionNorm(layer);
        ops.qkvProjection(layer);
        if (qkvBias) {
            ops.addQkvBias(layer);
        }
        if (qkNorm) {
            ops.qkNorm(layer);
        }
        ops.rope(layer);
        ops.appendKv(layer);
        ops.attention(layer);
        ops.outputProjection(layer);
        if (oBias) {
            ops.addOutputBias(layer);
        }
    }

    private void mlpBlock(LayerOps ops, int layer) {
        ops.mlpNorm(layer);
        if (config.isSparseLayer(firstLayer + layer)) {
            ops.moe(layer);
        } else {
            ops.mlp(layer);
        }
    }
}
