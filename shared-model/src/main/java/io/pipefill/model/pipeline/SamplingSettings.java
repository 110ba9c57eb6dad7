package io.pipefill.model.pipeline;

/**
 * How the last stage picks each generated token: greedy ({@code temperature} 0, the argmax, exactly as before
 * sampling existed) or drawn from the softmax of the logits divided by {@code temperature}, restricted to the
 * {@code topK} most likely tokens (0: no limit) and then to the smallest set whose probability reaches
 * {@code topP}, with a random stream seeded by {@code seed}: the same settings and seed draw the same tokens.
 *
 * @param temperature 0 (greedy) up to 2, as OpenAI's API allows
 * @param topP        in (0, 1]; 1 keeps every token
 * @param topK        0 (no limit) or a positive count
 * @param seed        the random stream's seed (unused when greedy)
 */
public record SamplingSettings(double temperature, double topP, int topK, long seed) {
    /** Today's decode: the argmax at every step. */
    public static final SamplingSettings GREEDY = new SamplingSettings(0, 1, 0, 0);

    public SamplingSettings {
        if (!(temperature >= 0 && temperature <= 2)) {
            throw new IllegalArgumentException("temperature: " + temperature + " is not in [0, 2]");
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p: " + topP + " is not in (0, 1]");
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k: " + topK + " must be 0 (no limit) or positive");
        }
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
