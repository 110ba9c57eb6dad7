package io.pipefill.model.pipeline;

/** The last stage's answer for one request: logits of the last prompt position and the greedy tokens. */
public record RequestResult(int request, float[] lastLogits, int[] generated, double ttftMs, double endMs) implements RankReport {

    @Override
    public String kind() {
        return "result";
    }
}
