package io.pipefill.cli;

import io.pipefill.tokenizer.PromptTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import picocli.CommandLine.Option;

/** Exactly one way of giving the prompt. */
final class PromptSource {
    @Option(names = "--prompt", description = "Prompt text (tokenized with the model's tokenizer.json).")
    String text;

    @Option(names = "--prompt-file", description = "File whose UTF-8 text is the prompt.")
    Path file;

    @Option(names = "--token-ids", split = ",", description = "Prompt as token ids, comma-separated.")
    int[] tokenIds;

    @Option(names = "--token-ids-file", description = "File of token ids separated by commas or white space.")
    Path tokenIdsFile;

    @Option(names = "--random-tokens", description = "A prompt of N uniformly random token ids (see --seed).")
    Integer randomTokens;

    /** Whether the prompt is text, which only a model's tokenizer.json turns into ids. */
    boolean needsTokenizer() {
        return text != null || file != null;
    }

    /** Describes the prompt for the human output. */
    String describe(long seed) {
        if (text != null) {
            return "text";
        }
        if (file != null) {
            return "text from " + file;
        }
        if (tokenIds != null) {
            return "token ids";
        }
        if (tokenIdsFile != null) {
            return "token ids from " + tokenIdsFile;
        }
        return "random, seed " + seed;
    }

    int[] tokens(Path tokenizerJson, int vocabSize, long seed) throws IOException {
        if (text != null || file != null) {
            String prompt = text != null ? text : readFile(file);
            try (PromptTokenizer tok = PromptTokenizer.open(tokenizerJson)) {
                return tok.encode(prompt);
            }
        }
        if (tokenIds != null) {
            return tokenIds.clone();
        }
        if (tokenIdsFile != null) {
            return parseIds(readFile(tokenIdsFile), tokenIdsFile.toString());
        }
        if (randomTokens <= 0) {
            throw new IllegalArgumentException("--random-tokens must be positive, got " + randomTokens);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] ids = new int[randomTokens];
        Arrays.setAll(ids, i -> rng.nextInt(vocabSize));
        return ids;
    }

    static int[] parseIds(String content, String source) {
        String trimmed = content.trim();
        if (trimmed.isEmpty()) {
            throw new IllegalArgumentException(source + ": no token ids");
        }
        String[] parts = trimmed.split("[,\\s]+");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(source + ": token " + (i + 1) + " is '" + parts[i] + "', not an integer id");
            }
        }
        return ids;
    }

    private static String readFile(Path p) throws IOException {
        try {
            return Files.readString(p);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(p + ": not found");
        }
    }
}
