package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.cuda.GemmShape.Element;
import io.pipefill.worker.cuda.GemmShape.Layout;
import io.pipefill.worker.cuda.GemmShape.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class GemmShapeTest {
    private static final long BASE = 0x7f00_0000_0000L;

    @Test
    void rowMajorProductIsTheColumnMajorTransposedOne() {
        // C[300 × 2304] = A[300 × 768] · W[2304 × 768]ᵀ, the layout cublasGemmEx(T, N, out, rows, in, W, in, A, in, C, out) used
        GemmShape s = GemmShape.of(300, 768, 2304, false, false, BASE, BASE + 1024, BASE + 4096);
        assertEquals(Op.T, s.transA());
        assertEquals(Op.N, s.transB());
        assertEquals(new Layout(Element.BF16, 768, 2304, 768), s.a());
        assertEquals(new Layout(Element.BF16, 768, 300, 768), s.b());
        assertEquals(new Layout(Element.BF16, 2304, 300, 2304), s.c());
        assertEquals(2304, s.m());
        assertEquals(300, s.n());
        assertEquals(768, s.k());
        // op(A) is m × k and op(B) is k × n, as cuBLASLt requires
        assertEquals(s.m(), s.a().cols());
        assertEquals(s.k(), s.a().rows());
        assertEquals(s.k(), s.b().rows());
        assertEquals(s.n(), s.b().cols());
        assertEquals(2.0 * 300 * 768 * 2304, s.flops());
    }

    @Test
    void floatOutputChangesOnlyTheOutputLayoutType() {
        GemmShape s = GemmShape.of(1, 4096, 128256, false, true, BASE, BASE, BASE);
        assertEquals(new Layout(Element.FP32, 128256, 1, 128256), s.c());
        assertEquals(Element.BF16, s.a().type());
        assertEquals(Element.BF16, s.b().type());
    }

    @Test
    void keyDistinguishesEverythingThatChangesThePlan() {
        GemmShape s = GemmShape.of(7, 128, 96, false, false, BASE, BASE + 256, BASE + 512);
        // other addresses with the same alignment: the same plan
        assertEquals(s, GemmShape.of(7, 128, 96, false, false, BASE + 8192, BASE + 768, BASE + 1024));
        assertEquals(s.hashCode(), GemmShape.of(7, 128, 96, false, false, BASE + 8192, BASE + 768, BASE + 1024).hashCode());
        assertNotEquals(s, GemmShape.of(8, 128, 96, false, false, BASE, BASE, BASE));
        assertNotEquals(s, GemmShape.of(7, 128, 96, true, false, BASE, BASE, BASE));
        assertNotEquals(s, GemmShape.of(7, 128, 96, false, true, BASE, BASE, BASE));
        assertNotEquals(s, GemmShape.of(7, 128, 96, false, false, BASE + 16, BASE, BASE));
    }

    @Test
    void alignmentIsTheLargestCommonPowerOfTwoUpTo256() {
        assertEquals(256, GemmShape.commonAlignment(BASE, BASE + 256, BASE + (1 << 20)));
        assertEquals(16, GemmShape.commonAlignment(BASE, BASE + 48, BASE + 512));
        assertEquals(2, GemmShape.commonAlignment(BASE + 2, BASE, BASE));
        assertEquals(256, GemmShape.commonAlignment());
        // a row offset inside a pool buffer: row 3 of a 4096-wide BF16 matrix is still 256-aligned
        assertEquals(256, GemmShape.of(1, 4096, 4096, false, false, BASE + 3L * 4096 * 2, BASE, BASE).alignment());
    }

    @Test
    void rejectsBadArgumentsNamingTheOperandAndShape() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GemmShape.of(0, 128, 96, false, false, BASE, BASE, BASE));
        assertTrue(e.getMessage().contains("0x128 · 96x128ᵀ"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmShape.of(7, 128, -1, false, false, BASE, BASE, BASE));
        assertTrue(e.getMessage().contains("positive"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmShape.of(7, 128, 96, false, false, BASE, 0, BASE));
        assertTrue(e.getMessage().contains("null device address for W"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmShape.of(7, 128, 96, false, false, BASE + 1, BASE, BASE));
        assertTrue(e.getMessage().startsWith("A of GEMM 7x128"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmShape.of(7, 128, 96, false, true, BASE, BASE, BASE + 2));
        assertTrue(e.getMessage().contains("C of GEMM") && e.getMessage().contains("FP32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GemmShape(7, 128, 96, false, Element.BF16, 3));
        assertThrows(IllegalArgumentException.class, () -> new GemmShape(7, 128, 96, false, Element.BF16, 512));
        assertThrows(IllegalArgumentException.class, () -> new GemmShape(7, 128, 96, false, null, 256));
    }

    @Test
    void describeNamesShapeOutputAndAccumulation() {
        assertEquals("300x768 · 2304x768ᵀ → bf16 (+= C) align 256",
                GemmShape.of(300, 768, 2304, true, false, BASE, BASE, BASE).describe());
        assertEquals("1x4096 · 128256x4096ᵀ → fp32 align 256",
                GemmShape.of(1, 4096, 128256, false, true, BASE, BASE, BASE).describe());
    }

    @Test
    void eightBShapesDoNotOverflow() {
        GemmShape s = GemmShape.of(65536, 4096, 28672, false, false, BASE, BASE, BASE);
        assertEquals(new Layout(Element.BF16, 28672, 65536, 28672), s.c());
        assertEquals(2.0 * 65536 * 4096 * 28672, s.flops());
        assertTrue(s.minBytes() > 2.0 * 65536 * 28672);
    }

    @Test
    void hostSideLoadsNoCudaLibrary() throws Exception {
        Path maps = Path.of("/proc/self/maps");
        Assumptions.assumeTrue(Files.isReadable(maps), "no /proc/self/maps on this OS: check skipped");
        GemmShape s = GemmShape.of(7, 128, 96, true, true, BASE, BASE, BASE);
        try (GemmPlans<AutoCloseable> plans = new GemmPlans<>(1)) {
            plans.get(s, k -> () -> { });
        }
        List<String> cuda = Files.readAllLines(maps).stream()
                .filter(l -> l.matches(".*/lib(cuda|cudart|cublas|cublasLt|nvrtc|nccl|cudnn)[^/]*\\.so.*")).toList();
        assertEquals(List.of(), cuda);
    }
}
