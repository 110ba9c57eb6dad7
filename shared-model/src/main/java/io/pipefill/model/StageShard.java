package io.pipefill.model;

/**
 * What one pipeline stage holds: decoder layers [firstLayer, endLayer), plus the embedding on the first stage
 * and the final norm and lm_head on the last.
 */
public record StageShard(int firstLayer, int endLayer, boolean embedding, boolean head) {

    public StageShard {
        if (firstLayer < 0 || endLayer < firstLayer) {
            throw new IllegalArgumentException("layer range [" + firstLayer + ", " + endLayer + ") is not valid");
        }
    }

    /** The whole model in one stage. */
    public static StageShard whole(ModelConfig config) {
        return new StageShard(0, config.numLayers(), true, true);
    }

    public int layerCount() {
        return endLayer - firstLayer;
    }

    public void checkFits(ModelConfig config) {
        if (endLayer > config.numLayers()) {
            throw new IllegalArgumentException("layers [" + firstLayer + ", " + endLayer + ") exceed the model's "
                    + config.numLayers() + " layers");
        }
    }
}
