package io.pipefill.worker.cuda;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds the host's CUDA 13 libraries before anything tries to load them, so that a missing one is reported
 * by name, with every directory searched, instead of as an UnsatisfiedLinkError deep inside JavaCPP.
 * The JavaCPP CUDA presets link these sonames from the host (their -redist jars are too large to carry).
 */
public final class CudaLibraries {
    /** soname to what it is, in the order a user should fix them. */
    public static final Map<String, String> REQUIRED = requiredLibraries();

    private static Map<String, String> requiredLibraries() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("libcuda.so.1", "the NVIDIA driver");
        m.put("libcudart.so.13", "the CUDA 13 runtime");
        m.put("libcublas.so.13", "cuBLAS 13");
        m.put("libcublasLt.so.13", "cuBLASLt 13");
        m.put("libnvrtc.so.13", "NVRTC 13 (kernel compilation at start-up)");
        m.put("libcudnn.so.9", "cuDNN 9 (fused attention)");
        m.put("libnccl.so.2", "NCCL 2 (GPU transport)");
        return Map.copyOf(m);
    }

    /** Where each library was found; missing ones are absent. */
    public record Probe(Map<String, Path> found, List<Path> searched) {
        public List<String> missing() {
            return REQUIRED.keySet().stream().filter(so -> !found.containsKey(so)).sorted().toList();
        }

        /** Throws an error naming every missing library and the directories searched. */
        public void requireAll() {
            List<String> missing = missing();
            if (missing.isEmpty()) {
                return;
            }
            StringBuilder sb = new StringBuilder("the CUDA backend needs libraries that were not found: ");
            for (int i = 0; i < missing.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(missing.get(i)).append(" (").append(REQUIRED.get(missing.get(i))).append(')');
            }
            sb.append("; searched LD_LIBRARY_PATH and ").append(searched.size()).append(" directories: ");
            sb.append(String.join(":", searched.stream().map(Path::toString).toList()));
            sb.append(". Put the directories holding them on LD_LIBRARY_PATH (pip's nvidia-* packages keep them under site-packages/nvidia/*/lib).");
            throw new IllegalStateException(sb.toString());
        }
    }

    private CudaLibraries() {
    }

    /** Searches LD_LIBRARY_PATH, the usual CUDA install places and Python's nvidia-* wheels. */
    public static Probe probe() {
        return probe(defaultSearchPath(System.getenv("LD_LIBRARY_PATH")));
    }

    public static Probe probe(List<Path> dirs) {
        Map<String, Path> found = new LinkedHashMap<>();
        for (String so : REQUIRED.keySet()) {
            for (Path d : dirs) {
                Path candidate = d.resolve(so);
                if (Files.exists(candidate)) {
                    found.put(so, candidate);
                    break;
                }
            }
        }
        return new Probe(Map.copyOf(found), List.copyOf(dirs));
    }

    static List<Path> defaultSearchPath(String ldLibraryPath) {
        Set<Path> dirs = new LinkedHashSet<>();
        if (ldLibraryPath != null) {
            for (String p : ldLibraryPath.split(File.pathSeparator)) {
                if (!p.isBlank()) {
                    dirs.add(Path.of(p));
                }
            }
        }
        for (String p : new String[] {"/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/local/cuda/targets/x86_64-linux/lib",
                                      "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64",
                                      "/usr/local/nvidia/lib"}) {
            dirs.add(Path.of(p));
        }
        for (Path site : pythonSitePackages()) {
            try (Stream<Path> s = Files.list(site.resolve("nvidia"))) {
                s.map(d -> d.resolve("lib")).filter(Files::isDirectory).sorted().forEach(dirs::add);
            } catch (Exception ignored) {
                // no nvidia wheels there
            }
        }
        return new ArrayList<>(dirs);
    }

    private static List<Path> pythonSitePackages() {
        List<Path> out = new ArrayList<>();
        for (String root : new String[] {"/usr/local/lib", "/usr/lib", "/opt/conda/lib"}) {
            try (Stream<Path> s = Files.list(Path.of(root))) {
                s.filter(p -> p.getFileName().toString().startsWith("python3")).sorted().forEach(p -> {
                    out.add(p.resolve("site-packages"));
                    out.add(p.resolve("dist-packages"));
                });
            } catch (Exception ignored) {
                // not there
            }
        }
        return out;
    }
}
