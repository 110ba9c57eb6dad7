package io.pipefill.controlplane.run;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * Bounds on a submitted prompt that hold before any work is done on it ({@code pipefill.prompt.*}). Tokenizing text
 * costs time and memory in proportion to its length (10 MB took 24 s and 4 GB of heap; 50 MB aborted the JVM in
 * the native tokenizer), so text is measured first: it may hold at most {@code bytesPerToken} UTF-8 bytes for each
 * prompt token its deployment's {@code maxTokens} leaves room for, and never more than {@code maxTextSize}; and at
 * most {@code concurrentTokenizations} texts are tokenized at once (more get 429).
 *
 * @param maxTextSize             the longest text accepted on any deployment (longer prompts: send tokenIds)
 * @param bytesPerToken           a generous bound on UTF-8 bytes per token (English averages about 4; a text beyond
 *                                it cannot fit in the tokens the deployment holds)
 * @param concurrentTokenizations texts tokenized at the same time
 */
@ConfigurationProperties("pipefill.prompt")
public record PromptLimits(DataSize maxTextSize, int bytesPerToken, int concurrentTokenizations) {
    public PromptLimits {
        if (maxTextSize == null) {
            maxTextSize = DataSize.ofMegabytes(8);
        }
        if (bytesPerToken <= 0) {
            bytesPerToken = 32;
        }
        if (concurrentTokenizations <= 0) {
            concurrentTokenizations = 2;
        }
    }

    /** The most UTF-8 bytes a text may have when at most {@code promptTokens} tokens fit. */
    long textBytesFor(int promptTokens) {
        return Math.min(maxTextSize.toBytes(), (long) promptTokens * bytesPerToken);
    }
}
