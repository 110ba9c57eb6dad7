package io.pipefill.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.pipefill.controlplane.common.InvalidFieldsException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** The prompt's bounds on their own: measured without encoding, tokenizing bounded by a bulkhead. */
class PromptResolverTest {
    private final Bulkhead one = Bulkhead.of("t", BulkheadConfig.custom().maxConcurrentCalls(1).maxWaitDuration(Duration.ZERO).build());
    private final PromptResolver resolver = new PromptResolver(new PromptLimits(DataSize.ofBytes(1000), 4, 1), one);
    private final AtomicInteger asked = new AtomicInteger();

    private Path tokenizer() {
        asked.incrementAndGet();
        return Path.of("/nonexistent/tokenizer.json");
    }

    private static SubmitRunRequest text(String t, int maxNewTokens) {
        return new SubmitRunRequest("d", t, null, null, null, maxNewTokens);
    }

    @Test
    void utf8LengthCountsBytesAndStopsPastTheLimit() {
        assertThat(PromptResolver.utf8Length("aé€😀", 100)).isEqualTo(1 + 2 + 3 + 4);
        assertThat(PromptResolver.utf8Length("\uD800x", 100)).isEqualTo(3 + 1); // a lone surrogate: U+FFFD
        assertThat(PromptResolver.utf8Length("€€€", 8)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void textBeyondItsRoomOrTheHardCapIsRefusedWithoutAskingForTheTokenizer() {
        // room for 10 prompt tokens with maxNewTokens 3 in 12 positions: 4 bytes each, 40 bytes
        PromptResolver.Room room = new PromptResolver.Room("d", 12, 3);
        assertThatThrownBy(() -> resolver.resolve(text("é".repeat(21), 3), room, 256, this::tokenizer))
                .isInstanceOf(InvalidFieldsException.class)
                .hasMessageContaining("text: longer than the 40 bytes of UTF-8 deployment d takes (the text has 21 characters)");
        // a large deployment: the hard cap of 1000 bytes holds
        assertThatThrownBy(() -> resolver.resolve(text("a".repeat(1001), 1), new PromptResolver.Room("big", 1 << 20, 1), 256,
                this::tokenizer)).hasMessageContaining("longer than the 1000 bytes");
        // no room for any prompt at all
        assertThatThrownBy(() -> resolver.resolve(text("a", 20), new PromptResolver.Room("d", 12, 20), 256, this::tokenizer))
                .hasMessageContaining("longer than the 0 bytes");
        assertThat(asked).hasValue(0);
    }

    @Test
    void textIsTokenizedOnlyWhileABulkheadPermitIsFree() {
        one.acquirePermission();
        assertThatThrownBy(() -> resolver.resolve(text("a", 1), new PromptResolver.Room("d", 100, 1), 256, this::tokenizer))
                .isInstanceOf(BulkheadFullException.class);
        one.onComplete();
        // a free permit: on to the tokenizer (which is missing here)
        assertThatThrownBy(() -> resolver.resolve(text("a", 1), new PromptResolver.Room("d", 100, 1), 256, this::tokenizer))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokenizer.json");
        assertThat(one.getMetrics().getAvailableConcurrentCalls()).isEqualTo(1);
    }

    @Test
    void countedPromptsAreCheckedBeforeTheirTokensAreMade() {
        PromptResolver.Room room = new PromptResolver.Room("d", 100, 1);
        assertThatThrownBy(() -> resolver.resolve(new SubmitRunRequest("d", null, null, 16_777_216, null, 1), room, 256,
                this::tokenizer)).hasMessageContaining("the prompt has 16777216 tokens and 1 are to be generated");
        int[] ids = resolver.resolve(new SubmitRunRequest("d", null, null, 100, 7L, 1), room, 256, this::tokenizer).tokens();
        assertThat(ids).hasSize(100);
        assertThat(java.util.Arrays.stream(ids).allMatch(t -> t >= 0 && t < 256)).isTrue();
    }
}
