package io.pipefill.model.safetensors;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** The safetensors element types pipefill reads. */
public enum DType {
    BF16(2),
    F16(2),
    F32(4),
    /** float8_e4m3fn: block-scaled FP8 weights, read together with their scale ({@link io.pipefill.model.BlockFp8}). */
    F8_E4M3(1);

    /** Every float8_e4m3fn bit pattern decoded: 1 sign, 4 exponent (bias 7), 3 mantissa bits, no infinities. */
    private static final float[] E4M3 = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            int exp = (b >>> 3) & 0xF;
            int mant = b & 0x7;
            float v;
            if (exp == 0xF && mant == 0x7) {
                v = Float.NaN; // S.1111.111 is the only NaN; there is no infinity
            } else if (exp == 0) {
                v = mant * 0x1p-9f; // subnormal: mant/8 · 2^-6
            } else {
                v = (1 + mant / 8f) * (float) Math.scalb(1.0, exp - 7);
            }
            E4M3[b] = (b & 0x80) != 0 ? -v : v;
        }
    }

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public static Optional<DType> fromName(String name) {
        return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
    }

    public static String supported() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }

    /** bfloat16 is the upper half of an IEEE float32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** IEEE half precision to float (Float.float16ToFloat arrives only in Java 20). */
    public static float f16ToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static float e4m3ToFloat(byte bits) {
        return E4M3[bits & 0xFF];
    }

    /** The largest finite float8_e4m3fn magnitude. */
    public static final float E4M3_MAX = 448f;

    /**
     * Rounds to the nearest float8_e4m3fn (ties to even); magnitudes beyond {@link #E4M3_MAX} saturate to it,
     * NaN stays NaN. Writers scale each block into range first, so saturation only guards the edge.
     */
    public static byte floatToE4M3(float value) {
        if (Float.isNaN(value)) {
            return (byte) 0x7F;
        }
        int sign = value < 0 || (value == 0 && 1 / value < 0) ? 0x80 : 0;
        float a = Math.abs(value);
        int code;
        if (a < 0x1p-6f) {
            code = (int) Math.rint(a / 0x1p-9f); // subnormals are multiples of 2^-9; 8 is the smallest normal's code
        } else {
            int e = Math.getExponent(a);
            int q = (int) Math.rint((a / (float) Math.scalb(1.0, e) - 1) * 8);
            if (q == 8) {
                e++;
                q = 0;
            }
            code = e + 7 > 15 || (e + 7 == 15 && q == 7) ? 0x7E : ((e + 7) << 3) | q;
        }
        return (byte) (sign | code);
    }

    /** Rounds to nearest even, as PyTorch does when casting float32 to bfloat16. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) 0x7FC0;
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
