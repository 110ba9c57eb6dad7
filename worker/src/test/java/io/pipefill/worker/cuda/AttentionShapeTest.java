package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The layouts handed to cuDNN, checked against the indexing of attention.cu's attention_prefill. */
class AttentionShapeTest {
    private static final AttentionShape EIGHT_B = AttentionShape.ofStage(32, 8, 128, 300, 1000, 4096);

    @Test
    void stageLayoutMatchesCudaStage() {
        assertEquals(32 * 128 + 2 * 8 * 128, EIGHT_B.qStride(), "q rows are the fused q/k/v rows");
        assertEquals(32 * 128, EIGHT_B.outStride());
        assertEquals(1300, EIGHT_B.kvLen());
        assertArrayEquals(new long[] {1, 32, 300, 128}, EIGHT_B.qDims());
        assertArrayEquals(new long[] {300L * 6144, 128, 6144, 1}, EIGHT_B.qStrides());
        assertArrayEquals(new long[] {1, 8, 128, 1300}, EIGHT_B.kTransposedDims());
        assertArrayEquals(new long[] {8L * 4096 * 128, 4096L * 128, 1, 128}, EIGHT_B.kTransposedStrides());
        assertArrayEquals(new long[] {1, 8, 1300, 128}, EIGHT_B.vDims());
        assertArrayEquals(new long[] {8L * 4096 * 128, 4096L * 128, 128, 1}, EIGHT_B.vStrides());
        assertArrayEquals(new long[] {1, 32, 300, 128}, EIGHT_B.outDims());
        assertArrayEquals(new long[] {300L * 4096, 128, 4096, 1}, EIGHT_B.outStrides());
        assertArrayEquals(new long[] {1, 32, 300, 1300}, EIGHT_B.scoreDims());
        assertArrayEquals(new long[] {32L * 300 * 1300, 300L * 1300, 1300, 1}, EIGHT_B.scoreStrides());
        assertArrayEquals(new long[] {1, 32, 300, 1}, EIGHT_B.rowStatDims());
        assertArrayEquals(new long[] {32L * 300, 300, 1, 1}, EIGHT_B.rowStatStrides());
    }

    /** Every tensor's strides address the element the CUDA-core kernel reads or writes for the same coordinates. */
    @Test
    void stridesAddressWhatTheKernelAddresses() {
        AttentionShape s = new AttentionShape(12, 4, 64, 37, 91, 200, 12 * 64 + 2 * 4 * 64 + 24, 12 * 64 + 8);
        SplittableRandom rnd = new SplittableRandom(7);
        int group = s.heads() / s.kvHeads();
        for (int n = 0; n < 1000; n++) {
            int h = rnd.nextInt(s.heads());
            int r = rnd.nextInt(s.rows());
            int j = rnd.nextInt(s.kvLen());
            int i = rnd.nextInt(s.headDim());
            int kh = h / group;
            // attention.cu: qRow = q + r * qStride + h * headDim; kBase = kCache + kh * capacity * headDim
            assertEquals((long) r * s.qStride() + (long) h * s.headDim() + i, offset(s.qStrides(), 0, h, r, i));
            long kv = ((long) kh * s.capacity() + j) * s.headDim() + i;
            assertEquals(kv, offset(s.kTransposedStrides(), 0, kh, i, j), "Kᵀ[kh][i][j] is K[kh][j][i]");
            assertEquals(kv, offset(s.vStrides(), 0, kh, j, i));
            assertEquals((long) r * s.outStride() + (long) h * s.headDim() + i, offset(s.outStrides(), 0, h, r, i));
        }
    }

    private static long offset(long[] strides, long... coords) {
        long o = 0;
        for (int a = 0; a < 4; a++) {
            o += strides[a] * coords[a];
        }
        return o;
    }

    @Test
    void maskAsTheGraphComputesItIsTheKernelsBottomRightMask() {
        for (int pos0 : new int[] {0, 1, 5, 64}) {
            AttentionShape s = AttentionShape.ofStage(2, 1, 8, 7, pos0, 100);
            for (int r = 0; r < s.rows(); r++) {
                for (int c = 0; c < s.kvLen(); c++) {
                    assertEquals(c <= pos0 + r, s.visible(r, c), "pos0 " + pos0 + " row " + r + " col " + c);
                }
            }
            assertTrue(s.visible(0, 0), "every row sees key 0: no fully masked row, so -inf never reaches the sum");
        }
    }

    @Test
    void causalFlopsCountVisiblePairs() {
        AttentionShape s = AttentionShape.ofStage(4, 2, 16, 9, 13, 64);
        long pairs = 0;
        for (int r = 0; r < s.rows(); r++) {
            for (int c = 0; c < s.kvLen(); c++) {
                pairs += s.visible(r, c) ? 1 : 0;
            }
        }
        assertEquals(4.0 * 16 * 4 * pairs, s.causalFlops(), 1e-6);
        AttentionShape chunk = AttentionShape.ofStage(32, 8, 128, 8192, 57344, 65536);
        double expected = 4.0 * 128 * 32 * (8192.0 * 57344 + 8192.0 * 8193 / 2);
        assertEquals(expected, chunk.causalFlops(), expected * 1e-12);
    }

    @Test
    void planKeyIgnoresWhereTheChunkSitsOnlyThroughKvLen() {
        assertEquals(AttentionShape.ofStage(32, 8, 128, 512, 1024, 8192).planKey(),
                AttentionShape.ofStage(32, 8, 128, 512, 1024, 8192).planKey(), "same chunk in another layer: same plan");
        assertNotEquals(AttentionShape.ofStage(32, 8, 128, 512, 1024, 8192).planKey(),
                AttentionShape.ofStage(32, 8, 128, 512, 1536, 8192).planKey(), "longer prefix: another plan");
        assertNotEquals(AttentionShape.ofStage(32, 8, 128, 512, 0, 8192).planKey(),
                AttentionShape.ofStage(32, 8, 128, 256, 256, 8192).planKey(), "same kvLen, other rows: another plan");
    }

    /** A family is everything but the sequence lengths, decode steps apart: one refusal per stage and kind at most. */
    @Test
    void familyIgnoresTheSequenceLengthsOnly() {
        AttentionShape.Family f = AttentionShape.ofStage(32, 8, 128, 8192, 0, 65536).family();
        assertEquals(f, AttentionShape.ofStage(32, 8, 128, 8192, 57344, 65536).family(), "another kvLen");
        assertEquals(f, AttentionShape.ofStage(32, 8, 128, 2, 40000, 65536).family(), "two rows");
        assertNotEquals(f, AttentionShape.ofStage(32, 8, 128, 1, 40000, 65536).family(), "a decode step: its own family");
        assertEquals(AttentionShape.ofStage(32, 8, 128, 1, 100, 65536).family(),
                AttentionShape.ofStage(32, 8, 128, 1, 40000, 65536).family(), "decode steps at any KV length");
        assertEquals(new AttentionShape.Family(32, 8, 128, 65536, 6144, 4096, false), f);
        assertNotEquals(f, AttentionShape.ofStage(32, 8, 64, 8192, 0, 65536).family(), "head dim");
        assertNotEquals(f, AttentionShape.ofStage(32, 4, 128, 8192, 0, 65536).family(), "kv heads (and the q stride)");
        assertNotEquals(f, AttentionShape.ofStage(16, 8, 128, 8192, 0, 65536).family(), "query heads");
        assertNotEquals(f, AttentionShape.ofStage(32, 8, 128, 8192, 0, 32768).family(), "capacity: the K/V head stride");
        assertNotEquals(f, new AttentionShape(32, 8, 128, 8192, 0, 65536, 6144 + 8, 4096).family(), "q row stride");
        assertNotEquals(f, new AttentionShape(32, 8, 128, 8192, 0, 65536, 6144, 4096 + 8).family(), "output row stride");
        // every field of a shape is in its family or its sequence lengths (rows, pos0; the family's singleRow is of
        // rows): a new field must be placed
        assertEquals(AttentionShape.class.getRecordComponents().length,
                AttentionShape.Family.class.getRecordComponents().length - 1 + 2);
    }

    @Test
    void invalidShapesAreRejectedWithWhatIsAllowed() {
        assertMessage("do not group evenly", () -> AttentionShape.ofStage(6, 4, 64, 1, 0, 8));
        assertMessage("multiple of 8 and at most 256, got 12", () -> AttentionShape.ofStage(2, 1, 12, 1, 0, 8));
        assertMessage("at most 256, got 512", () -> AttentionShape.ofStage(2, 1, 512, 1, 0, 8));
        assertMessage("do not fit the KV cache capacity 8", () -> AttentionShape.ofStage(2, 1, 64, 4, 5, 8));
        assertMessage("rows must be positive", () -> AttentionShape.ofStage(2, 1, 64, 0, 0, 8));
        assertMessage("pos0 must be >= 0", () -> AttentionShape.ofStage(2, 1, 64, 1, -1, 8));
        assertMessage("qStride 100 is shorter", () -> new AttentionShape(2, 1, 64, 1, 0, 8, 100, 128));
        assertMessage("multiples of 8 BF16 values", () -> new AttentionShape(2, 1, 64, 1, 0, 8, 132, 128));
        assertMessage("outStride 64 is shorter", () -> new AttentionShape(2, 1, 64, 1, 0, 8, 256, 64));
    }

    @Test
    void addressesMustBeSixteenByteAligned() {
        AttentionShape.checkAligned("q", 0x7f0000001000L);
        assertMessage("q address 0x7f0000001008 is not 16-byte aligned", () -> AttentionShape.checkAligned("q", 0x7f0000001008L));
        assertMessage("k cache address is null", () -> AttentionShape.checkAligned("k cache", 0));
    }

    private static void assertMessage(String part, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
    }
}
