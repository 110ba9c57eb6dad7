package io.pipefill.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.model.agent.GpuInventory;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodeInventoryTest {
    @Test
    void nvidiaSmiLinesAreCountedByModelAndMemory() {
        String csv = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\nNVIDIA L4, 23034\n\ngarbage\n";
        assertEquals(List.of(new GpuInventory("NVIDIA H100 80GB HBM3", 81559L << 20, 2),
                new GpuInventory("NVIDIA L4", 23034L << 20, 1)), NodeInventory.parseGpus(csv));
    }
}
