package io.pipefill.worker.engine;

import java.lang.management.ManagementFactory;

/** The machine's physical memory, for defaults and for refusing loads that cannot fit. */
public final class SystemMemory {
    private SystemMemory() {
    }

    public static long totalBytes() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getTotalMemorySize();
        }
        return 8L << 30;
    }

    public static void checkFits(String what, long bytes) {
        long total = totalBytes();
        if (bytes > total * 0.9) {
            throw new IllegalArgumentException(what + " and KV cache need " + (bytes >> 20) + " MiB but this machine has "
                    + (total >> 20) + " MiB; use a smaller model or prompt");
        }
    }
}
