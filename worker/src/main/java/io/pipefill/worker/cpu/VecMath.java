package io.pipefill.worker.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise hot loops (softmax pieces, norms, SwiGLU) on the Vector API, so that they run at SIMD
 * width: the attention softmax does one exp per score, and a scalar exp would cost more than the GEMMs.
 */
final class VecMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private VecMath() {
    }

    public static float max(float[] a, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i <= n - L; i += L) {
                acc = acc.max(FloatVector.fromArray(S, a, off + i));
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, a[off + i]);
        }
        return m;
    }

    /** a[i] = exp(a[i] - shift) in place; returns the sum of the new values. */
    static float expShiftSum(float[] a, int off, int n, float shift) {
        int i = 0;
        float sum = 0;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            for (; i <= n - L; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, off + i).sub(shift).lanewise(VectorOperators.EXP);
                v.intoArray(a, off + i);
                acc = acc.add(v);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - shift);
            a[off + i] = e;
            sum += e;
        }
        return sum;
    }

    /** o[i] = o[i] · c + t[i]. */
    static void scaleAdd(float[] o, int oOff, float c, float[] t, int tOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, o, oOff + i).mul(c).add(FloatVector.fromArray(S, t, tOff + i)).intoArray(o, oOff + i);
        }
        for (; i < n; i++) {
            o[oOff + i] = o[oOff + i] * c + t[tOff + i];
        }
    }

    /** a[i] *= c. */
    public static void scale(float[] a, int off, int n, float c) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, a, off + i).mul(c).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= c;
        }
    }

    static float sumSquares(float[] a, int off, int n) {
        int i = 0;
        float sum = 0;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            for (; i <= n - L; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, off + i);
                acc = v.fma(v, acc);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            sum += a[off + i] * a[off + i];
        }
        return sum;
    }

    /** RMSNorm in place: x = x / sqrt(mean(x²) + eps) · w. */
    static void rmsNorm(float[] x, int off, int n, float[] w, float eps) {
        float inv = (float) (1.0 / Math.sqrt(sumSquares(x, off, n) / n + eps));
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, x, off + i).mul(inv).mul(FloatVector.fromArray(S, w, i)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] = x[off + i] * inv * w[i];
        }
    }

    /** out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + exp(-g)). */
    static void siluMul(float[] gate, int gOff, float[] up, int uOff, float[] out, int oOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, gOff + i);
            FloatVector sig = g.neg().lanewise(VectorOperators.EXP).add(1f);
            g.div(sig).mul(FloatVector.fromArray(S, up, uOff + i)).intoArray(out, oOff + i);
        }
        for (; i < n; i++) {
            float g = gate[gOff + i];
            out[oOff + i] = (float) (g / (1 + Math.exp(-g))) * up[uOff + i];
        }
    }

    /** a[i] += b[i]. */
    public static void add(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] += b[bOff + i];
        }
    }

    /** a[i] += c · b[i]: one expert's weighted output into a row's sum. */
    public static void addScaled(float[] a, int aOff, float[] b, int bOff, int n, float c) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, b, bOff + i).fma(FloatVector.broadcast(S, c), FloatVector.fromArray(S, a, aOff + i))
                    .intoArray(a, aOff + i);
        }
        for (; i < n; i++) {
            a[aOff + i] += c * b[bOff + i];
        }
    }
}
