package io.pipefill.model.agent;

/** One kind of GPU on a node: its model name, memory per GPU and how many there are. */
public record GpuInventory(String model, long memoryBytes, int count) {
}
