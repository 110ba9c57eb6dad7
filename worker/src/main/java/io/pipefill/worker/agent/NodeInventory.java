package io.pipefill.worker.agent;

import io.pipefill.model.agent.GpuInventory;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** What a worker says about its node when it registers: host name and GPUs (from nvidia-smi, when present). */
final class NodeInventory {
    private NodeInventory() {
    }

    static String hostname() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            String env = System.getenv("HOSTNAME");
            return env != null && !env.isBlank() ? env : "localhost";
        }
    }

    /** The node's GPUs grouped by model, or an empty list where nvidia-smi is absent or fails. */
    static List<GpuInventory> gpus() {
        File smi = onPath("nvidia-smi");
        if (smi == null) {
            return List.of();
        }
        try {
            Process p = new ProcessBuilder(smi.getPath(), "--query-gpu=name,memory.total", "--format=csv,noheader,nounits")
                    .redirectErrorStream(true).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                System.err.println("pipefill agent: nvidia-smi did not answer within 10 s; registering without GPUs");
                return List.of();
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                System.err.println("pipefill agent: nvidia-smi failed (exit " + p.exitValue() + "); registering without GPUs");
                return List.of();
            }
            return parseGpus(out);
        } catch (IOException e) {
            System.err.println("pipefill agent: could not run nvidia-smi (" + e.getMessage() + "); registering without GPUs");
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    /** Parses "name, MiB" lines; GPUs of one model and size are counted together. */
    static List<GpuInventory> parseGpus(String csv) {
        Map<String, int[]> counts = new LinkedHashMap<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        for (String line : csv.split("\\R")) {
            int comma = line.lastIndexOf(',');
            if (comma <= 0) {
                continue;
            }
            String name = line.substring(0, comma).trim();
            long mib;
            try {
                mib = Long.parseLong(line.substring(comma + 1).trim());
            } catch (NumberFormatException e) {
                continue;
            }
            String key = name + "\u0000" + mib;
            counts.computeIfAbsent(key, k -> new int[1])[0]++;
            bytes.put(key, mib << 20);
        }
        List<GpuInventory> gpus = new ArrayList<>();
        counts.forEach((key, n) -> gpus.add(new GpuInventory(key.substring(0, key.indexOf('\u0000')), bytes.get(key), n[0])));
        return gpus;
    }

    private static File onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, name);
            if (f.isFile() && f.canExecute()) {
                return f;
            }
        }
        return null;
    }
}
