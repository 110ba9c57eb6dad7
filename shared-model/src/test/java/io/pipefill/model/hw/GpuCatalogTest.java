package io.pipefill.model.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GpuCatalogTest {
    @Test
    void datasheetFigures() {
        GpuSpec h20 = GpuCatalog.get("H20");
        assertEquals(96e9, h20.memoryBytes(), 0);
        assertEquals(4.0e12, h20.hbmBytesPerS(), 0);
        assertEquals(148e12, h20.bf16Flops(), 0);
        assertEquals(296e12, h20.gemmPeak(1), 0);
        assertEquals(141e9, GpuCatalog.get("h20-141g").memoryBytes(), 0);
        assertEquals(4.8e12, GpuCatalog.get("h200").hbmBytesPerS(), 0);
        assertEquals(1979e12, GpuCatalog.get("h100").fp8Flops(), 0);
        GpuSpec a100 = GpuCatalog.get("a100");
        assertFalse(a100.hasFp8());
        assertEquals(312e12, a100.gemmPeak(1), 0, "FP8 weights run at the BF16 peak without FP8 tensor cores");
        assertEquals(600e9, a100.nvlinkBytesPerS(), 0);
        GpuSpec b200 = GpuCatalog.get("b200");
        assertEquals(2250e12, b200.bf16Flops(), 0);
        assertEquals(4500e12, b200.fp8Flops(), 0);
        assertEquals(1800e9, b200.nvlinkBytesPerS(), 0);
    }

    @Test
    void unknownGpuNamesTheKnownOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> GpuCatalog.get("h300"));
        assertTrue(e.getMessage().contains("unknown GPU 'h300'") && e.getMessage().contains("h20, h20-141g, h100"), e.getMessage());
    }

    @Test
    void clusterDefaultsAndBadSizes() {
        Cluster c = Cluster.of(GpuCatalog.get("h20"), 4, 8);
        assertEquals(32, c.totalGpus());
        assertEquals(50e9, c.nicBytesPerS(), 0);
        assertEquals(1, c.nodeOf(8));
        assertThrows(IllegalArgumentException.class, () -> Cluster.of(GpuCatalog.get("h20"), 0, 8));
        var e = assertThrows(IllegalArgumentException.class, () -> Cluster.of(GpuCatalog.get("h20"), 1, -2));
        assertTrue(e.getMessage().contains("--gpus-per-node"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Efficiency(1.2, 0.5, 0.5, 0.5, 0));
    }
}
