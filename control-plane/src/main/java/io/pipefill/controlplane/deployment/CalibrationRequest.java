package io.pipefill.controlplane.deployment;

import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;
import java.util.List;

/**
 * Chunk costs given with a {@code chunking: planned} deployment instead of measuring them: one list of four
 * coefficients [c₀, c₁, c₂, c₃] per stage, t(prefix, n) = c₀ + c₁·n + c₂·n·prefix + c₃·n² ms, and the send
 * d₀ + d₁·n ms (both 0 when left out). {@code pipefill bench planned} prints such a fit.
 */
public record CalibrationRequest(
        @NotNull @Size(min = 1, max = 64, message = "must list one [c0, c1, c2, c3] per stage")
        List<@NotNull @Size(min = 4, max = 4, message = "must hold exactly 4 coefficients [c0, c1, c2, c3]")
                List<@NotNull Double>> stageCoefficients,
        @DecimalMin("0") Double sendFixedMs,
        @DecimalMin("0") Double sendPerTokenMs) {

    public double sendFixedMsOrZero() {
        return sendFixedMs == null ? 0 : sendFixedMs;
    }

    public double sendPerTokenMsOrZero() {
        return sendPerTokenMs == null ? 0 : sendPerTokenMs;
    }
}
