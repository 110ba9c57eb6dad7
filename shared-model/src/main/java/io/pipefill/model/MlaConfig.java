package io.pipefill.model;

/**
 * DeepSeek-V2/V3 multi-head latent attention (config.json fields of {@code DeepseekV3Config}). Each token's keys
 * and values are compressed into one latent vector of {@code kvLoraRank} shared by all heads, plus one rotary key
 * of {@code qkRopeHeadDim} shared by all heads; per head, {@code kv_b_proj} expands the latent into a key part
 * without position ({@code qkNopeHeadDim}) and a value ({@code vHeadDim}). The KV cache holds only the latent
 * and the rotary key, which is MLA's point.
 *
 * @param qLoraRank      width of the low-rank query path (q_a_proj → q_a_layernorm → q_b_proj); 0 when
 *                       config.json has {@code q_lora_rank: null} and the query is one {@code q_proj}
 * @param ropeInterleave whether the rotary part pairs dimensions (2i, 2i + 1) as DeepSeek's checkpoints do
 *                       ({@code rope_interleave}, true when absent), else i and i + d/2 as Llama does
 */
public record MlaConfig(int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim,
                        boolean ropeInterleave) {

    public MlaConfig {
        if (qLoraRank < 0) {
            throw new IllegalArgumentException("q_lora_rank must be a positive integer or null (0 here), got " + qLoraRank);
        }
        positive("kv_lora_rank", kvLoraRank);
        positive("qk_nope_head_dim", qkNopeHeadDim);
        positive("qk_rope_head_dim", qkRopeHeadDim);
        positive("v_head_dim", vHeadDim);
        if (qkRopeHeadDim % 2 != 0) {
            throw new IllegalArgumentException("qk_rope_head_dim must be even for rotary embeddings, got " + qkRopeHeadDim);
        }
    }

    private static void positive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be a positive integer, got " + v);
        }
    }

    public boolean hasQLora() {
        return qLoraRank > 0;
    }

    /** One head's query and key width: the part without position and the rotary part. */
    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    /** Width of kv_a_proj_with_mqa's output: the latent, then the shared rotary key. */
    public int compressedKvDim() {
        return kvLoraRank + qkRopeHeadDim;
    }

    /** Floats one position costs in one layer's cache: the normalised latent and the rotated key. */
    public int cachedFloatsPerPosition() {
        return kvLoraRank + qkRopeHeadDim;
    }

    /** Parameters of one layer's attention for {@code heads} heads on a hidden size {@code h}, norms included. */
    public long attentionParameters(long h, long heads) {
        long q = hasQLora() ? h * qLoraRank + qLoraRank + (long) qLoraRank * heads * qkHeadDim() : h * heads * qkHeadDim();
        long kv = h * compressedKvDim() + kvLoraRank + (long) kvLoraRank * heads * (qkNopeHeadDim + vHeadDim);
        return q + kv + heads * vHeadDim * h;
    }
}
