package io.pipefill.model.hw;

/**
 * How a chip's kernels slow down away from large shapes, the part of the cost model that depends on the chunk:
 * <ul>
 *   <li><b>GEMMs</b> (M = chunk tokens, N, K): compute time 2MNK / (peak × e_gemm) and traffic time
 *       (weights + activations in and out) / (HBM × e_mem) do not overlap perfectly; the kernel takes
 *       (t_c^p + t_m^p)^(1/p). p = ∞ would be the plain roofline max, p = 1 no overlap at all. Short chunks are
 *       where the two are comparable, so this is what makes them slower per token;</li>
 *   <li><b>attention</b>: a flash-style kernel runs one CTA per (query tile, head), so a chunk of n tokens over
 *       h heads per GPU fills ⌈n / tile⌉·h CTAs; the last wave over {@code sms} SMs runs part-empty. And per query,
 *       short key ranges (a small prefix) pay the tile prologue and the causal diagonal more often:
 *       {@code attentionByKeys} is the measured share of the long-prefix rate by mean keys per query.</li>
 * </ul>
 *
 * <p>Measured on an NVIDIA H200 (docs/gpu/h200-2026-11-28-run3-gemm-probe.jsonl: cuBLASLt BF16, Llama-8B shapes
 * at M = 2048 and 8192 and the M = 1 lm_head; docs/gpu/h200-2026-11-28-run4-attention-probe.jsonl: 8K-token
 * chunks at prefixes 0, 28 672 and 57 344): least squares in log time over the six GEMM timings gives
 * e_gemm = 0.828, e_mem = 0.918 and p = 1.75, every timing within 1.2 %; the attention kernel ran 279, 319 and
 * 321 TFLOP/s, i.e. 0.870, 0.995 and 1.0 of its long-prefix rate at 4 096, 32 768 and 61 440 mean keys per query.
 * Other chips keep these shares and scale by their own datasheet peaks and bandwidth (the same kernels' share of
 * a different peak), with their own SM count.
 */
public record KernelShapes(int sms, int attentionQueryTile, double gemmOverlapExponent, EfficiencyCurve attentionByKeys) {

    /** The H200 fit above. */
    public static final double MEASURED_GEMM_OVERLAP = 1.75;
    public static final EfficiencyCurve MEASURED_ATTENTION_BY_KEYS = new EfficiencyCurve(
            new double[] {4096, 32768, 61440}, new double[] {0.870, 0.995, 1.0});
    /** FlashAttention-2/3 and cuDNN's prefill kernels take 128 query rows per CTA on Hopper. */
    public static final int FLASH_QUERY_TILE = 128;

    public KernelShapes {
        if (sms < 1 || attentionQueryTile < 1) {
            throw new IllegalArgumentException("a chip needs ≥ 1 SM and a query tile ≥ 1, got " + sms + " and "
                    + attentionQueryTile);
        }
        if (!(gemmOverlapExponent >= 1) || Double.isInfinite(gemmOverlapExponent)) {
            throw new IllegalArgumentException("the GEMM overlap exponent must be finite and ≥ 1, got "
                    + gemmOverlapExponent);
        }
        if (attentionByKeys == null) {
            throw new IllegalArgumentException("attention efficiency table missing");
        }
    }

    /** The measured tables on a chip with {@code sms} SMs. */
    public static KernelShapes measured(int sms) {
        return new KernelShapes(sms, FLASH_QUERY_TILE, MEASURED_GEMM_OVERLAP, MEASURED_ATTENTION_BY_KEYS);
    }

    /** One GEMM's time from its compute time and its traffic time (both at the chip's large-shape rates). */
    public double gemmSeconds(double computeS, double trafficS) {
        double p = gemmOverlapExponent;
        double hi = Math.max(computeS, trafficS);
        if (hi == 0) {
            return 0;
        }
        double lo = Math.min(computeS, trafficS) / hi;
        return hi * Math.pow(1 + Math.pow(lo, p), 1 / p);
    }

    /**
     * Share of the long-prefix attention rate for a chunk of {@code n} queries after {@code prefix} keys with
     * {@code headsPerGpu} query heads: the last wave's fill times the table's share at the mean keys per query.
     */
    public double attentionShare(long prefix, int n, double headsPerGpu) {
        return waveFill(n, headsPerGpu) * attentionByKeys.at(prefix + (n + 1) / 2.0);
    }

    /** Share of the SMs' slots that the attention CTAs of a chunk of {@code n} queries fill over all its waves. */
    public double waveFill(int n, double headsPerGpu) {
        double ctas = Math.ceil((double) n / attentionQueryTile) * Math.max(1, Math.round(headsPerGpu));
        double waves = Math.ceil(ctas / sms);
        return ctas / (waves * sms);
    }
}
