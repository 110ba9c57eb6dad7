package io.pipefill.controlplane.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.controlplane.cluster.Node;
import io.pipefill.controlplane.cluster.NodeHealth;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.controlplane.cluster.WorkerState;
import io.pipefill.controlplane.common.ConflictException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PlacementPlannerTest {
    private final List<Node> nodes = new ArrayList<>();
    private final List<Worker> workers = new ArrayList<>();
    private final Map<UUID, String> nodeOfWorker = new java.util.HashMap<>();

    private void node(String name, int freeWorkers, NodeHealth health) {
        Node n = new Node(UUID.randomUUID(), name, name, 8, 1L << 34, List.of(), Map.of(), health, Instant.now(), Instant.now());
        nodes.add(n);
        for (int i = 0; i < freeWorkers; i++) {
            Worker w = new Worker(UUID.randomUUID(), n.id(), "cpu", "http://" + name + ":" + (9000 + i), null, WorkerState.IDLE,
                    null, Instant.now(), Instant.EPOCH.plusSeconds(workers.size()));
            workers.add(w);
            nodeOfWorker.put(w.id(), name);
        }
    }

    private List<String> nodesByRank(List<Placement> p) {
        return p.stream().map(x -> nodeOfWorker.get(x.workerId())).collect(Collectors.toList());
    }

    @Test
    void keepsEachTpGroupOnOneNodeAndFillsNodesInOrder() {
        node("a", 3, NodeHealth.HEALTHY);
        node("b", 4, NodeHealth.HEALTHY);
        List<Placement> p = PlacementPlanner.place(3, 2, workers, nodes);
        // b has the most free workers: stages 0 and 1 there (one intra-node hop), stage 2 on a
        assertThat(nodesByRank(p)).containsExactly("b", "b", "b", "b", "a", "a");
        assertThat(p).extracting(Placement::rank).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(p).extracting(Placement::stage).containsExactly(0, 0, 1, 1, 2, 2);
        assertThat(p).extracting(Placement::tpRank).containsExactly(0, 1, 0, 1, 0, 1);
        assertThat(p.stream().map(Placement::workerId).distinct().count()).isEqualTo(6);
    }

    @Test
    void skipsNodesThatCannotHoldAWholeTpGroupAndUnhealthyNodes() {
        node("a", 1, NodeHealth.HEALTHY);
        node("b", 2, NodeHealth.HEALTHY);
        node("c", 8, NodeHealth.DRAINING);
        List<Placement> p = PlacementPlanner.place(1, 2, workers, nodes);
        assertThat(nodesByRank(p)).containsExactly("b", "b");
        assertThatThrownBy(() -> PlacementPlanner.place(2, 2, workers, nodes))
                .isInstanceOf(ConflictException.class)
                .hasMessageContaining("needs 4 free workers")
                .hasMessageContaining("stage 1 found no node with 2 free")
                .hasMessageContaining("a 1 left");
    }

    @Test
    void pipelineOnlyLayoutsUseEveryFreeWorker() {
        node("a", 1, NodeHealth.HEALTHY);
        node("b", 1, NodeHealth.HEALTHY);
        assertThat(nodesByRank(PlacementPlanner.place(2, 1, workers, nodes))).containsExactlyInAnyOrder("a", "b");
        assertThatThrownBy(() -> PlacementPlanner.place(3, 1, workers, nodes)).isInstanceOf(ConflictException.class);
    }
}
