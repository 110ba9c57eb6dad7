package io.pipefill.worker.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The output of the GPU probes (GemmProbe, NcclProbe, CudnnAttentionProbe): one JSON object per line on stdout,
 * each naming its {@code case}, flushed at once so that a probe killed by a hang or a crash still leaves every
 * line it finished (check.py and a person reading the device's output both rely on that).
 */
final class ProbeLines {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ProbeLines() {
    }

    static Map<String, Object> line(String kind) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("case", kind);
        return m;
    }

    /** Adds {@code t}'s message, its first stack frames and its cause to {@code m}. */
    static void error(Map<String, Object> m, Throwable t) {
        m.put("error", String.valueOf(t));
        List<String> at = new ArrayList<>();
        for (StackTraceElement s : t.getStackTrace()) {
            if (at.size() == 6) {
                break;
            }
            at.add(s.toString());
        }
        m.put("at", at);
        if (t.getCause() != null) {
            m.put("cause", String.valueOf(t.getCause()));
        }
    }

    static void emit(Map<String, Object> m) {
        String s;
        try {
            s = JSON.writeValueAsString(m);
        } catch (Exception e) {
            // still one parseable line: the case and why its values could not be written
            s = "{\"case\":" + quote(String.valueOf(m.get("case"))) + ",\"ok\":false,\"error\":"
                    + quote("could not write this line as JSON: " + e + "; " + m) + "}";
        }
        System.out.println(s);
        System.out.flush();
    }

    /**
     * A probe's main: runs it and exits with its code. A probe catches per case; this is the last resort, so that
     * even a bug in the probe itself leaves one line saying what it was (exit 1).
     */
    static void exitWith(java.util.function.IntSupplier probe) {
        int code;
        try {
            code = probe.getAsInt();
        } catch (Throwable t) {
            crash(t);
            code = 1;
        }
        System.out.flush();
        System.exit(code);
    }

    private static void crash(Throwable t) {
        System.out.println("{\"case\":\"probe_crash\",\"ok\":false,\"error\":" + quote(String.valueOf(t)) + "}");
        System.out.flush();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
}
