package io.pipefill.model.cost;

/**
 * The attention block of one decoder layer, as far as cost goes: projection parameters, FLOPs per
 * (query, key) pair, and what the KV cache keeps per token. Counts are for the whole layer (all heads);
 * the cost model divides them over a TP group.
 */
public sealed interface AttentionSpec permits AttentionSpec.Gqa, AttentionSpec.Mla {

    int heads();

    /** Grouped-query attention (MHA when kvHeads = heads): q/k/v/o projections, K and V cached per KV head. */
    record Gqa(int heads, int kvHeads, int headDim) implements AttentionSpec {
        public Gqa {
            if (heads <= 0 || kvHeads <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("attention heads, key/value heads and head_dim must be positive, got "
                        + heads + ", " + kvHeads + ", " + headDim);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException("num_attention_heads (" + heads + ") must be a multiple of "
                        + "num_key_value_heads (" + kvHeads + ")");
            }
        }
    }

    /**
     * DeepSeek's multi-head latent attention. Queries go through a low-rank q_lora_rank bottleneck (0 = none);
     * keys and values are cached as one compressed kv_lora_rank latent plus a shared qk_rope_head_dim RoPE key
     * per token, and expanded per head by kv_b_proj. For prefill the expansion runs on the whole prefix
     * (non-absorbed form, the one prefill kernels use), so attention is MHA with qk = nope + rope, v = v_head_dim.
     */
    record Mla(int heads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim)
            implements AttentionSpec {
        public Mla {
            if (heads <= 0 || qLoraRank < 0 || kvLoraRank <= 0 || qkNopeHeadDim <= 0 || qkRopeHeadDim <= 0
                    || vHeadDim <= 0) {
                throw new IllegalArgumentException("MLA needs positive num_attention_heads, kv_lora_rank, qk_nope_head_dim,"
                        + " qk_rope_head_dim and v_head_dim, and q_lora_rank ≥ 0");
            }
        }

        public int qkHeadDim() {
            return qkNopeHeadDim + qkRopeHeadDim;
        }

        /** Elements the KV cache keeps per token per layer: the latent plus the RoPE key. */
        public int latentWidth() {
            return kvLoraRank + qkRopeHeadDim;
        }
    }
}
