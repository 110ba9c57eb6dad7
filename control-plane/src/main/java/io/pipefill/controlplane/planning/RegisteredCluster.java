package io.pipefill.controlplane.planning;

import io.pipefill.controlplane.cluster.Node;
import io.pipefill.controlplane.cluster.NodeHealth;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.GpuCatalog;
import io.pipefill.model.hw.GpuSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The planner's {@link Cluster} from the registered nodes: the HEALTHY nodes that have GPUs, which must all be of
 * one catalog type (the planner models identical GPUs). Nodes with different GPU counts are planned as if each
 * had the smallest count, and a note says so.
 */
final class RegisteredCluster {
    private static final long GIB = 1L << 30;

    private RegisteredCluster() {
    }

    /** The cluster and the notes that explain how it was derived. */
    record Derived(Cluster cluster, List<String> nodeNames, List<String> notes) {
    }

    static Derived of(List<Node> nodes) {
        Map<String, List<String>> nodesByGpu = new TreeMap<>();
        Map<String, Integer> countByNode = new TreeMap<>();
        for (Node n : nodes) {
            if (n.health() != NodeHealth.HEALTHY || n.gpus() == null || n.gpus().isEmpty()) {
                continue;
            }
            for (GpuInventory g : n.gpus()) {
                String type = catalogName(g, n.name());
                nodesByGpu.computeIfAbsent(type, k -> new ArrayList<>()).add(n.name());
                countByNode.merge(n.name(), g.count(), Integer::sum);
            }
        }
        if (countByNode.isEmpty()) {
            throw new IllegalArgumentException("no HEALTHY registered node has GPUs (" + nodes.size() + " node(s) registered)"
                    + "; describe a cluster instead: \"cluster\": {\"gpu\": \"h100\", \"nodes\": 1, \"gpusPerNode\": 8}");
        }
        if (nodesByGpu.size() > 1) {
            throw new IllegalArgumentException("the registered nodes mix GPU types " + nodesByGpu
                    + "; the planner models one type: describe the cluster to plan in \"cluster\"");
        }
        String type = nodesByGpu.keySet().iterator().next();
        int min = countByNode.values().stream().mapToInt(Integer::intValue).min().orElseThrow();
        int max = countByNode.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
        List<String> notes = new ArrayList<>();
        notes.add("cluster: " + countByNode.size() + " registered node(s) " + countByNode.keySet() + " with " + type);
        if (min != max) {
            notes.add("nodes have " + min + " to " + max + " GPUs (" + countByNode + "): planned with " + min + " per node");
        }
        return new Derived(Cluster.of(GpuCatalog.get(type), countByNode.size(), min), List.copyOf(countByNode.keySet()), notes);
    }

    /**
     * The catalog name for a reported GPU model such as "NVIDIA H100 80GB HBM3" or "H100": the catalog name itself,
     * or a word of the model name equal to a catalog type (an H20 with more than 100 GiB is the 141 GB part).
     */
    static String catalogName(GpuInventory g, String node) {
        String model = g.model() == null ? "" : g.model().trim().toLowerCase(Locale.ROOT);
        if (GpuCatalog.names().contains(model)) {
            return model;
        }
        List<String> words = Arrays.asList(model.split("[^a-z0-9]+"));
        for (String name : GpuCatalog.names()) {
            if (!name.contains("-") && words.contains(name)) {
                return name.equals("h20") && g.memoryBytes() > 100 * GIB ? "h20-141g" : name;
            }
        }
        throw new IllegalArgumentException("node " + node + " reports GPU '" + g.model() + "', which the planner does not know;"
                + " known: " + String.join(", ", GpuCatalog.names()) + " (describe the cluster in \"cluster\" instead)");
    }
}
