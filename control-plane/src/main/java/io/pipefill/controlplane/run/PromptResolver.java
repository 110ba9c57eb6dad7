package io.pipefill.controlplane.run;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.model.pipeline.ChunkingPolicy;
import io.pipefill.tokenizer.PromptTokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Turns a submission's prompt into token ids, checking them against the model's vocabulary and the deployment's
 * room. Every bound that can be checked before work is: a count of tokens before its array is allocated, and a
 * text's length before it is tokenized (see {@link PromptLimits}); tokenizing is bounded by a bulkhead.
 */
final class PromptResolver {
    private final PromptLimits limits;
    private final Bulkhead tokenizations;

    PromptResolver(PromptLimits limits, Bulkhead tokenizations) {
        this.limits = limits;
        this.tokenizations = tokenizations;
    }

    record Prompt(PromptKind kind, int[] tokens) {
    }

    /** The deployment a prompt must fit: its KV positions hold the prompt and the tokens generated after it. */
    record Room(String deployment, int maxTokens, int maxNewTokens) {
        /** The longest prompt that fits (may be below 1 when maxNewTokens alone does not fit). */
        int promptTokens() {
            return maxTokens - ChunkingPolicy.kvPositions(0, maxNewTokens);
        }

        void check(int promptTokens) {
            int need = ChunkingPolicy.kvPositions(promptTokens, maxNewTokens);
            if (need > maxTokens) {
                throw new IllegalArgumentException("the prompt has " + promptTokens + " tokens and " + maxNewTokens
                        + " are to be generated: " + need + " KV positions, but deployment " + deployment
                        + " holds at most maxTokens = " + maxTokens);
            }
        }
    }

    /**
     * @param vocab         the model's vocabulary size
     * @param tokenizerJson the model's tokenizer.json, asked for only when the prompt is text (throws when it has none)
     */
    Prompt resolve(SubmitRunRequest r, Room room, int vocab, Supplier<Path> tokenizerJson) {
        return resolve(r, room, vocab, tokenizerJson, true);
    }

    /** @param addSpecialTokens false for a text a chat template rendered with its special tokens in it */
    Prompt resolve(SubmitRunRequest r, Room room, int vocab, Supplier<Path> tokenizerJson, boolean addSpecialTokens) {
        int given = (r.text() != null ? 1 : 0) + (r.tokenIds() != null ? 1 : 0) + (r.randomTokens() != null ? 1 : 0);
        if (given != 1) {
            throw new IllegalArgumentException("give the prompt as exactly one of text, tokenIds or randomTokens ("
                    + (given == 0 ? "none" : given) + " given)");
        }
        if (r.text() != null) {
            return text(r.text(), room, tokenizerJson, addSpecialTokens);
        }
        if (r.tokenIds() != null) {
            if (r.tokenIds().isEmpty()) {
                throw new IllegalArgumentException("tokenIds: the prompt is empty");
            }
            room.check(r.tokenIds().size());
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
        // bean validation has bounded randomTokens to 1..16 777 216; the deployment's room is usually far smaller
        room.check(r.randomTokens());
        long seed = r.seed() == null ? 1 : r.seed();
        return new Prompt(PromptKind.RANDOM, new SplittableRandom(seed).ints(r.randomTokens(), 0, vocab).toArray());
    }

    private Prompt text(String text, Room room, Supplier<Path> tokenizerJson, boolean addSpecialTokens) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("text: the prompt is empty");
        }
        long limit = limits.textBytesFor(Math.max(0, room.promptTokens()));
        if (utf8Length(text, limit) > limit) {
            throw new InvalidFieldsException(List.of(new FieldProblem("text", "longer than the " + limit
                    + " bytes of UTF-8 deployment " + room.deployment() + " takes (the text has " + text.length()
                    + " characters): the deployment holds maxTokens = " + room.maxTokens() + " with maxNewTokens = "
                    + room.maxNewTokens() + ", text is taken up to " + limits.bytesPerToken() + " bytes per prompt token"
                    + " and never beyond pipefill.prompt.max-text-size = " + limits.maxTextSize().toBytes() + " bytes;"
                    + " send a shorter text, or the prompt as tokenIds")));
        }
        Path tokenizer = tokenizerJson.get();
        int[] ids = tokenizations.executeSupplier(() -> {
            try (PromptTokenizer tok = PromptTokenizer.open(tokenizer)) {
                return tok.encode(text, addSpecialTokens);
            }
        });
        if (ids.length == 0) {
            throw new IllegalArgumentException("text: the prompt tokenizes to no tokens");
        }
        room.check(ids.length);
        return new Prompt(PromptKind.TEXT, ids);
    }

    /**
     * The text's length in UTF-8 bytes, counted without encoding it; {@link Long#MAX_VALUE} as soon as it passes
     * {@code limit} (a lone surrogate counts as the 3 bytes of its replacement character).
     */
    static long utf8Length(String s, long limit) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
            if (n > limit) {
                return Long.MAX_VALUE;
            }
        }
        return n;
    }
}
