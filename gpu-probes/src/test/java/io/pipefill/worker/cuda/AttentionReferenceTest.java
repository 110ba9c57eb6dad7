package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.model.safetensors.DType;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The host reference CudnnAttentionProbe uses as the arbiter between cuDNN and the CUDA-core kernel. */
class AttentionReferenceTest {
    /** With q = 0 every visible key scores the same: the output is the mean of the visible V rows of the GQA head. */
    @Test
    void referenceAveragesVisibleValuesOfTheGroupsKvHead() {
        AttentionShape s = AttentionShape.ofStage(4, 2, 8, 3, 2, 6);
        short[] q = new short[s.rows() * s.qStride()];
        short[] k = new short[s.kvHeads() * s.capacity() * s.headDim()];
        short[] v = new short[k.length];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < k.length; i++) {
            k[i] = DType.floatToBf16((float) rnd.nextDouble(-1, 1));
            v[i] = DType.floatToBf16((float) rnd.nextDouble(-1, 1));
        }
        for (int h = 0; h < s.heads(); h++) {
            int kh = h / 2;
            for (int r = 0; r < s.rows(); r++) {
                double[] out = AttentionReference.row(s, q, k, v, r, h);
                for (int i = 0; i < s.headDim(); i++) {
                    double mean = 0;
                    for (int j = 0; j <= s.pos0() + r; j++) {
                        mean += DType.bf16ToFloat(v[(kh * s.capacity() + j) * s.headDim() + i]);
                    }
                    mean /= s.pos0() + r + 1;
                    assertEquals(mean, out[i], 1e-9, "head " + h + " row " + r + " dim " + i);
                }
            }
        }
    }
}
