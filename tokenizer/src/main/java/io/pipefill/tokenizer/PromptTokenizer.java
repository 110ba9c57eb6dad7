package io.pipefill.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's tokenizer.json, run by the Hugging Face tokenizers library (DJL's binding, whose jar carries the
 * native library). Special tokens are added as the tokenizer's post-processor says, as transformers does.
 */
public final class PromptTokenizer implements AutoCloseable {
    static {
        // DJL probes for GPUs by loading libcudart into the process; the CPU path must not load CUDA libraries,
        // so let it ask a short-lived child process instead (unless the user chose otherwise)
        if (System.getProperty("ai.djl.util.cuda.fork") == null) {
            System.setProperty("ai.djl.util.cuda.fork", "true");
        }
    }

    private final HuggingFaceTokenizer tokenizer;

    private PromptTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public static PromptTokenizer open(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IllegalArgumentException(tokenizerJson + ": not found; a text prompt needs the model's tokenizer.json"
                    + " (or pass --token-ids / --random-tokens)");
        }
        try {
            return new PromptTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("addSpecialTokens", "true", "modelMaxLength", String.valueOf(Integer.MAX_VALUE),
                            "truncation", "false", "padding", "false")));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * With {@code addSpecialTokens} false the post-processor's tokens (a BOS) are not added: for a text rendered by
     * a chat template, which writes its special tokens itself (as transformers' apply_chat_template does).
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Encoding enc = tokenizer.encode(text, addSpecialTokens, false);
        long[] ids = enc.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
