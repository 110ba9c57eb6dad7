package io.pipefill.controlplane.run;

import io.pipefill.model.ModelDirectory;
import io.pipefill.tokenizer.PromptTokenizer;
import java.util.SplittableRandom;

/** Turns a submission's prompt into token ids, checking them against the model's vocabulary. */
final class PromptResolver {
    private PromptResolver() {
    }

    record Prompt(PromptKind kind, int[] tokens) {
    }

    static Prompt resolve(SubmitRunRequest r, ModelDirectory model) {
        int given = (r.text() != null ? 1 : 0) + (r.tokenIds() != null ? 1 : 0) + (r.randomTokens() != null ? 1 : 0);
        if (given != 1) {
            throw new IllegalArgumentException("give the prompt as exactly one of text, tokenIds or randomTokens ("
                    + (given == 0 ? "none" : given) + " given)");
        }
        int vocab = model.config().vocabSize();
        if (r.text() != null) {
            if (r.text().isEmpty()) {
                throw new IllegalArgumentException("text: the prompt is empty");
            }
            if (!model.hasTokenizer()) {
                throw new IllegalArgumentException("text: the model at " + model.path()
                        + " has no tokenizer.json; give tokenIds or randomTokens instead");
            }
            try (PromptTokenizer tok = PromptTokenizer.open(model.tokenizerJson())) {
                int[] ids = tok.encode(r.text());
                if (ids.length == 0) {
                    throw new IllegalArgumentException("text: the prompt tokenizes to no tokens");
                }
                return new Prompt(PromptKind.TEXT, ids);
            }
        }
        if (r.tokenIds() != null) {
            if (r.tokenIds().isEmpty()) {
                throw new IllegalArgumentException("tokenIds: the prompt is empty");
            }
            int[] ids = new int[r.tokenIds().size()];
            for (int i = 0; i < ids.length; i++) {
                Integer id = r.tokenIds().get(i);
                if (id == null || id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("tokenIds[" + i + "]: " + id + " is not a token id of this model (0.."
                            + (vocab - 1) + ")");
                }
                ids[i] = id;
            }
            return new Prompt(PromptKind.TOKENS, ids);
        }
        long seed = r.seed() == null ? 1 : r.seed();
        return new Prompt(PromptKind.RANDOM, new SplittableRandom(seed).ints(r.randomTokens(), 0, vocab).toArray());
    }
}
