package io.pipefill.worker.pipeline;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Milliseconds since the run's start on the wall clock, which all ranks on one host share. */
public record RunClock(long epochMicros) {
    public static long nowMicros() {
        return ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
    }

    public static RunClock startingNow() {
        return new RunClock(nowMicros());
    }

    public double ms() {
        return (nowMicros() - epochMicros) / 1000.0;
    }
}
