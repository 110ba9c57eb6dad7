package io.pipefill.worker.cuda;

/**
 * One GEMM of {@link CudaDevice#linear}, C[rows × out] = A[rows × in] · W[out × in]ᵀ (+ C), as cuBLASLt
 * sees it, and the key of {@link CublasLtMatmul}'s plan cache. Plain Java with no CUDA type in sight, so the
 * shape → layout mapping and the argument checks are unit-tested on machines without a GPU.
 *
 * <p>cuBLASLt is column-major; a row-major matrix is its column-major transpose. So row-major C = A · Wᵀ is
 * column-major Cᵀ = W · Aᵀ with m = out, n = rows, k = in: cuBLASLt's "A" is our W, stored in × out with
 * ld = in and used transposed; its "B" is our A, stored in × rows with ld = in, used as is; C and D are
 * out × rows with ld = out.
 *
 * @param alignment the largest power of two up to 256 dividing all three device addresses: the heuristic
 *                  may pick a kernel that needs 16-byte (or more) aligned operands, and a plan chosen for
 *                  aligned buffers must not run on misaligned ones, so alignment is part of the key (it is
 *                  256 for every pool allocation, so in practice it never splits the cache)
 */
record GemmShape(int rows, int in, int out, boolean accumulate, Element output, int alignment) {
    /** The most alignment the heuristic cares about (cuBLASLt's default assumption). */
    static final int MAX_ALIGNMENT = 256;

    enum Element {
        BF16(2), FP32(4);

        final int bytes;

        Element(int bytes) {
            this.bytes = bytes;
        }
    }

    /** cublasOperation_t as cuBLASLt takes it, mapped to CUBLAS_OP_N / CUBLAS_OP_T by the device side. */
    enum Op {
        N, T
    }

    /** A cuBLASLt matrix layout: column-major {@code rows × cols} with leading dimension {@code ld}. */
    record Layout(Element type, long rows, long cols, long ld) {
    }

    GemmShape {
        if (rows <= 0 || in <= 0 || out <= 0) {
            throw new IllegalArgumentException("GEMM dimensions must be positive: " + dims(rows, in, out));
        }
        if (output == null) {
            throw new IllegalArgumentException("no output type for GEMM " + dims(rows, in, out));
        }
        // 2: the BF16 operands' element size; the output's own alignment is checked on its address in of()
        if (alignment < 2 || alignment > MAX_ALIGNMENT || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " of GEMM " + dims(rows, in, out)
                    + " must be a power of two in [2, " + MAX_ALIGNMENT + "]");
        }
    }

    /**
     * The shape of {@code linear(rows, in, out, a, w, accumulate, c, floatOutput)} on absolute device
     * addresses; rejects null or misaligned addresses with a message naming the operand.
     */
    static GemmShape of(int rows, int in, int out, boolean accumulate, boolean floatOutput, long a, long w, long c) {
        Element output = floatOutput ? Element.FP32 : Element.BF16;
        checkAddress("A", a, Element.BF16, rows, in, out);
        checkAddress("W", w, Element.BF16, rows, in, out);
        checkAddress("C", c, output, rows, in, out);
        return new GemmShape(rows, in, out, accumulate, output, commonAlignment(a, w, c));
    }

    private static void checkAddress(String name, long address, Element type, int rows, int in, int out) {
        if (address == 0) {
            throw new IllegalArgumentException("null device address for " + name + " of GEMM " + dims(rows, in, out));
        }
        if (address % type.bytes != 0) {
            throw new IllegalArgumentException(name + " of GEMM " + dims(rows, in, out) + " at 0x" + Long.toHexString(address)
                    + " is not aligned to its " + type + " element size of " + type.bytes + " bytes");
        }
    }

    /** The largest power of two, at most {@link #MAX_ALIGNMENT}, that divides every address. */
    static int commonAlignment(long... addresses) {
        long bits = MAX_ALIGNMENT;
        for (long a : addresses) {
            bits |= a;
        }
        return (int) Long.lowestOneBit(bits);
    }

    Op transA() {
        return Op.T;
    }

    Op transB() {
        return Op.N;
    }

    /** cuBLASLt's A: our W (out × in row-major), i.e. column-major in × out. */
    Layout a() {
        return new Layout(Element.BF16, in, out, in);
    }

    /** cuBLASLt's B: our A (rows × in row-major), i.e. column-major in × rows. */
    Layout b() {
        return new Layout(Element.BF16, in, rows, in);
    }

    /** cuBLASLt's C and D (the same buffer, so accumulation happens in place). */
    Layout c() {
        return new Layout(output, out, rows, out);
    }

    long m() {
        return out;
    }

    long n() {
        return rows;
    }

    long k() {
        return in;
    }

    double flops() {
        return 2.0 * rows * in * out;
    }

    /** Bytes the GEMM must move at least once: A, W, C written (and read too when accumulating). */
    double minBytes() {
        return 2.0 * rows * in + 2.0 * out * in + (accumulate ? 2.0 : 1.0) * rows * out * output.bytes;
    }

    /** For error messages and the probe: "300x768 · 2304x768ᵀ → bf16 (+= C) align 256". */
    String describe() {
        return dims(rows, in, out) + " → " + output.name().toLowerCase() + (accumulate ? " (+= C)" : "") + " align " + alignment;
    }

    private static String dims(int rows, int in, int out) {
        return rows + "x" + in + " · " + out + "x" + in + "ᵀ";
    }
}
