package io.pipefill.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/** How many consecutive decoder layers each pipeline stage owns. */
public record LayerPartition(int[] layersPerStage) {

    public LayerPartition {
        if (layersPerStage.length == 0) {
            throw new IllegalArgumentException("a layer partition needs at least one stage");
        }
        for (int i = 0; i < layersPerStage.length; i++) {
            if (layersPerStage[i] <= 0) {
                throw new IllegalArgumentException("stage " + i + " of the layer partition " + Arrays.toString(layersPerStage)
                        + " has no layers; every stage needs at least one");
            }
        }
        layersPerStage = layersPerStage.clone();
    }

    /** Stage i gets ⌊L/P⌋ layers and the last (L mod P) stages one extra. */
    public static LayerPartition even(int layers, int stages) {
        if (stages < 1) {
            throw new IllegalArgumentException("pipeline stages must be at least 1, got " + stages);
        }
        if (stages > layers) {
            throw new IllegalArgumentException(stages + " pipeline stages for a model of " + layers
                    + " layers: every stage needs at least one layer");
        }
        int[] parts = new int[stages];
        int base = layers / stages;
        int extra = layers % stages;
        for (int i = 0; i < stages; i++) {
            parts[i] = base + (i >= stages - extra ? 1 : 0);
        }
        return new LayerPartition(parts);
    }

    /** Parses "15,15,15,16"; it must have one entry per stage and sum to the model's layer count. */
    public static LayerPartition parse(String text, int layers, int stages) {
        String[] parts = text.split(",");
        int[] counts = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                counts[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--layer-partition " + text + ": entry " + (i + 1) + " ('" + parts[i]
                        + "') is not a whole number");
            }
        }
        if (counts.length != stages) {
            throw new IllegalArgumentException("--layer-partition " + text + " has " + counts.length
                    + " entries but there are " + stages + " pipeline stages");
        }
        int sum = Arrays.stream(counts).sum();
        if (sum != layers) {
            throw new IllegalArgumentException("--layer-partition " + text + " sums to " + sum + " but the model has "
                    + layers + " layers");
        }
        return new LayerPartition(counts);
    }

    public int stages() {
        return layersPerStage.length;
    }

    public int totalLayers() {
        return Arrays.stream(layersPerStage).sum();
    }

    public StageShard shard(int stage) {
        int first = 0;
        for (int i = 0; i < stage; i++) {
            first += layersPerStage[i];
        }
        return new StageShard(first, first + layersPerStage[stage], stage == 0, stage == stages() - 1);
    }

    @Override
    public String toString() {
        return Arrays.stream(layersPerStage).mapToObj(String::valueOf).collect(Collectors.joining(","));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerPartition p && Arrays.equals(layersPerStage, p.layersPerStage);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(layersPerStage);
    }
}
