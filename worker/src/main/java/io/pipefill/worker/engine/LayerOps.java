package io.pipefill.worker.engine;

/**
 * The steps of one decoder layer on one backend, in the units a backend computes them: each step is one BLAS
 * call or one fused loop on the CPU and one GEMM or kernel launch (or a fixed short sequence of them) on the GPU.
 * {@link DecoderLayer} says which steps run and in what order, for every architecture; a backend says only how
 * a step is computed, and never branches on the architecture.
 *
 * <p>An instance works on one chunk: the residual stream x (rows [0, n) at positions [position, position + n))
 * and the backend's work buffers, bound when the backend creates it. {@code layer} is the stage-local layer
 * index (its weights and its part of the KV cache). The steps pass data through those buffers:
 *
 * <pre>
 *   x ─ attentionNorm ─▶ normed ─ qkvProjection ─▶ qkv ─ [addQkvBias] [qkNorm] rope ─ appendKv ─▶ KV cache
 *   q + KV cache ─ attention ─▶ attn ─ outputProjection ─▶ x += attn · Woᵀ ─ [addOutputBias]
 *   x ─ mlpNorm ─▶ normed ─ mlp ─▶ x += down(SwiGLU(normed · [gate; up]ᵀ))
 * </pre>
 *
 * <p>The steps from {@link #qkvProjection} to {@link #appendKv} are row-local: a backend may defer the
 * optional ones and {@link #rope} and run them in one pass over the rows at {@link #appendKv} (the CPU does),
 * as long as the effect is that of running them in the order called. The two projections into the residual
 * ({@link #outputProjection}, the down projection in {@link #mlp}) sum the tensor-parallel partial products
 * over the group before adding them to x.
 *
 * <p>The mixture-of-experts MLP is one step in place of {@link #mlp} ({@link #moe}: router, top-k experts, shared
 * experts, with its residual and all-reduce). Multi-head latent attention is another sequence in place of
 * {@link #qkvProjection} … {@link #attention}, writing the same attn buffer (heads × v_head_dim wide):
 *
 * <pre>
 *   normed ─ latentProjections ─▶ q, compressed kv ─ appendLatent ─▶ latent cache
 *   q + latent cache ─ latentAttention ─▶ attn ─ outputProjection ─▶ x += attn · Woᵀ
 * </pre>
 *
 * {@link DecoderLayer} chooses between them once, from the model's configuration.
 */
public interface LayerOps {

    /** normed = RMSNorm(x) with the layer's input norm. */
    void attentionNorm(int layer);

    /** qkv = normed · [Wq; Wk; Wv]ᵀ, one fused GEMM over this rank's heads. */
    void qkvProjection(int layer);

    /** qkv += the q/k/v bias (Qwen2, or attention_bias). */
    void addQkvBias(int layer);

    /** Per-head RMSNorm of the q heads and the k heads (Qwen3), before RoPE. */
    void qkNorm(int layer);

    /** Rotary position embedding of the q and k heads at the chunk's positions. */
    void rope(int layer);

    /** Appends the chunk's k and v heads to the layer's KV cache at positions [position, position + n). */
    void appendKv(int layer);

    /** attn = causal attention of the chunk's q heads over every cached position up to their own. */
    void attention(int layer);

    /** x += attn · Woᵀ (partial sums all-reduced over the tensor-parallel group first). */
    void outputProjection(int layer);

    /** x += the o_proj bias, after the all-reduce (attention_bias outside Qwen2). */
    void addOutputBias(int layer);

    /**
     * Latent attention's projections from normed: the query of this rank's heads (q_a_proj, its RMSNorm and
     * q_b_proj, or one q_proj), and the compressed kv = normed · Wkv_aᵀ (the latent, then the rotary key).
     */
    void latentProjections(int layer);

    /**
     * The latent through kv_a_layernorm and the rotary key through RoPE into the layer's latent cache at
     * positions [position, position + n); RoPE on the rotary part of every query head.
     */
    void appendLatent(int layer);

    /**
     * attn = causal attention of the chunk's query heads over every cached position up to their own, the keys'
     * and values' per-head parts expanded from the cached latent through kv_b_proj one block of positions at a
     * time (memory O(block), never O(prompt)); softmax scale (qk_nope + qk_rope)^-½, times YaRN's mscale².
     */
    void latentAttention(int layer);

    /** normed = RMSNorm(x) with the layer's post-attention norm. */
    void mlpNorm(int layer);

    /**
     * The dense SwiGLU MLP with its residual: x += (silu(normed · Wgateᵀ) ⊙ (normed · Wupᵀ)) · Wdownᵀ, gate and
     * up as one fused GEMM, the down product's partial sums all-reduced over the tensor-parallel group first.
     */
    void mlp(int layer);

    /**
     * The sparse MLP with its residual (Qwen3-MoE, DeepSeek-V3): the router's logits normed · Wrouterᵀ, each token's
     * top-k experts and weights ({@link MoeRouter}), x += Σ weight · down_e(SwiGLU_e(normed)) over those experts,
     * plus the shared experts' SwiGLU when the model has them. Every
     * rank routes alike (the router is replicated) and holds a slice of each expert's width, so the weighted
     * partial sums are all-reduced over the tensor-parallel group before they reach x.
     */
    void moe(int layer);
}
