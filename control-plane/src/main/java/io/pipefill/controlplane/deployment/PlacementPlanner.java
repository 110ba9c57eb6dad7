package io.pipefill.controlplane.deployment;

import io.pipefill.controlplane.cluster.Node;
import io.pipefill.controlplane.cluster.NodeHealth;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.common.ConflictException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Places a PP × TP layout on free workers. A TP group all-reduces twice per layer, so its ranks must share
 * a node (NVLink, not the NIC); consecutive PP stages exchange one activation per chunk, so stages are
 * filled node by node, in order, keeping as many stage-to-stage hops as possible inside a node. Nodes with
 * the most free workers are used first, which keeps the number of nodes (and inter-node hops) small.
 */
public final class PlacementPlanner {
    private PlacementPlanner() {
    }

    /**
     * @param free workers that may take a shard (right backend, placeable state), on healthy nodes
     * @throws ConflictException naming what is needed and what each node has when the layout does not fit
     */
    public static List<Placement> place(int pp, int tp, List<Worker> free, List<Node> nodes) {
        Map<UUID, Node> nodeById = nodes.stream().collect(Collectors.toMap(Node::id, n -> n));
        Map<UUID, List<Worker>> byNode = new LinkedHashMap<>();
        for (Worker w : free) {
            Node n = nodeById.get(w.nodeId());
            if (n != null && n.health() == NodeHealth.HEALTHY) {
                byNode.computeIfAbsent(n.id(), k -> new ArrayList<>()).add(w);
            }
        }
        List<UUID> order = new ArrayList<>(byNode.keySet());
        order.sort(Comparator.<UUID>comparingInt(id -> -byNode.get(id).size()).thenComparing(id -> nodeById.get(id).name()));
        for (List<Worker> ws : byNode.values()) {
            ws.sort(Comparator.comparing(Worker::registeredAt).thenComparing(Worker::id));
        }
        List<Placement> out = new ArrayList<>();
        int nodeIndex = 0;
        for (int stage = 0; stage < pp; stage++) {
            while (nodeIndex < order.size() && byNode.get(order.get(nodeIndex)).size() < tp) {
                nodeIndex++;
            }
            if (nodeIndex == order.size()) {
                throw new ConflictException(describeShortfall(pp, tp, free.size(), byNode, nodeById, stage));
            }
            List<Worker> ws = byNode.get(order.get(nodeIndex));
            for (int t = 0; t < tp; t++) {
                out.add(new Placement(stage * tp + t, stage, t, ws.remove(0).id()));
            }
        }
        return out;
    }

    private static String describeShortfall(int pp, int tp, int freeCount, Map<UUID, List<Worker>> left,
                                            Map<UUID, Node> nodes, int stage) {
        String perNode = left.isEmpty() ? "no node has a free worker"
                : left.entrySet().stream().map(e -> nodes.get(e.getKey()).name() + " " + e.getValue().size() + " left")
                .collect(Collectors.joining(", "));
        return "cannot place PP " + pp + " × TP " + tp + ": it needs " + pp * tp + " free workers, with each stage's "
                + tp + " TP rank(s) on one node; " + freeCount + " free worker(s) in all, stage " + stage
                + " found no node with " + tp + " free (" + perNode + ")";
    }
}
