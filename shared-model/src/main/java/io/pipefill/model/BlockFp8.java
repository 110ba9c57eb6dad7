package io.pipefill.model;

/**
 * Block-scaled FP8 weights (config.json "quantization_config": quant_method "fp8", fmt "e4m3"), as DeepSeek-V3
 * and Qwen3-*-FP8 ship them: each quantised weight is float8_e4m3fn with a float32 companion
 * {@code <name>_scale_inv} holding one multiplier per [blockRows × blockCols] block, W = fp8 · scale_inv.
 *
 * @param blockRows the block's height ("weight_block_size"[0])
 * @param blockCols the block's width ("weight_block_size"[1])
 */
public record BlockFp8(int blockRows, int blockCols) {
    /** The block both published checkpoints use. */
    public static final BlockFp8 DEEPSEEK = new BlockFp8(128, 128);

    public BlockFp8 {
        if (blockRows <= 0 || blockCols <= 0) {
            throw new IllegalArgumentException("quantization_config.weight_block_size must be two positive integers, got ["
                    + blockRows + ", " + blockCols + "]");
        }
    }

    /** The shape of the scale tensor of a [rows × cols] weight: one entry per block, partial blocks included. */
    public long[] scaleShape(long rows, long cols) {
        return new long[] {(rows + blockRows - 1) / blockRows, (cols + blockCols - 1) / blockCols};
    }
}
