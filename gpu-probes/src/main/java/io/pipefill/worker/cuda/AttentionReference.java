package io.pipefill.worker.cuda;

import io.pipefill.model.safetensors.DType;

/**
 * Attention of single (row, head) pairs on the host, in double precision, over the same BF16 layouts the GPU
 * reads. Too slow for whole chunks; the probe uses it on sampled rows as an arbiter when the cuDNN graph and
 * the CUDA-core kernel disagree, so a failure says which of the two is wrong.
 */
final class AttentionReference {
    private AttentionReference() {
    }

    /**
     * Output of query row {@code r}, head {@code h}: q as rows of {@code s.qStride()}, k/v as
     * [kvHeads][capacity][headDim], all BF16 bit patterns.
     */
    static double[] row(AttentionShape s, short[] q, short[] k, short[] v, int r, int h) {
        int d = s.headDim();
        int kh = h / (s.heads() / s.kvHeads());
        long qBase = (long) r * s.qStride() + (long) h * d;
        long kvBase = (long) kh * s.capacity() * d;
        int keys = s.pos0() + r + 1;
        double[] scores = new double[keys];
        double max = Double.NEGATIVE_INFINITY;
        double scale = 1.0 / Math.sqrt(d);
        for (int j = 0; j < keys; j++) {
            double dot = 0;
            long kRow = kvBase + (long) j * d;
            for (int i = 0; i < d; i++) {
                dot += DType.bf16ToFloat(q[(int) (qBase + i)]) * (double) DType.bf16ToFloat(k[(int) (kRow + i)]);
            }
            scores[j] = dot * scale;
            max = Math.max(max, scores[j]);
        }
        double sum = 0;
        for (int j = 0; j < keys; j++) {
            scores[j] = Math.exp(scores[j] - max);
            sum += scores[j];
        }
        double[] out = new double[d];
        for (int j = 0; j < keys; j++) {
            double p = scores[j] / sum;
            long vRow = kvBase + (long) j * d;
            for (int i = 0; i < d; i++) {
                out[i] += p * DType.bf16ToFloat(v[(int) (vRow + i)]);
            }
        }
        return out;
    }
}
