package io.pipefill.controlplane.openai;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Streaming text from tokens: a byte-per-token decoder (as the generated models' byte-level tokenizer is) makes
 * split characters and stop sequences that straddle tokens happen.
 */
class TextAssemblerTest {
    /** Token t is byte t; an incomplete UTF-8 sequence decodes to U+FFFD, as the tokenizers library does. */
    private static final Function<int[], String> BYTES = ids -> {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    };
    private static final int EOS = 257;

    private static int[] tokens(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] t = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            t[i] = b[i] & 0xff;
        }
        return t;
    }

    private static List<String> feed(TextAssembler a, int... ids) {
        List<String> deltas = new ArrayList<>();
        for (int id : ids) {
            String d = a.add(id);
            if (!d.isEmpty()) {
                deltas.add(d);
            }
        }
        return deltas;
    }

    @Test
    void aCharacterSplitOverTokensIsSentWhole() {
        TextAssembler a = new TextAssembler(BYTES, List.of(), Set.of(EOS));
        assertThat(feed(a, tokens("aé€b"))).containsExactly("a", "é", "€", "b");
        assertThat(a.finish()).isEmpty();
        assertThat(a.completionTokens()).isEqualTo(7);
    }

    @Test
    void aStopSequenceAcrossTokensEndsTheTextBeforeIt() {
        TextAssembler a = new TextAssembler(BYTES, List.of("END", "xyz"), Set.of(EOS));
        List<String> deltas = feed(a, tokens("hello ENxENDmore"));
        assertThat(String.join("", deltas)).isEqualTo("hello ENx");
        assertThat(a.stopped()).isTrue();
        assertThat(a.completionTokens()).as("up to the token that completed the stop").isEqualTo(12);
        assertThat(a.text()).isEqualTo("hello ENx");
        // "E", then "EN", were held back (either could begin "END") until the x showed they were not the stop
        assertThat(deltas).containsSubsequence(" ", "EN", "x").doesNotContain("E", "N");
    }

    @Test
    void theEndOfSequenceTokenStopsAndHeldTextIsFlushedAtTheEnd() {
        TextAssembler a = new TextAssembler(BYTES, List.of("</s>"), Set.of(EOS));
        assertThat(String.join("", feed(a, tokens("ok</")))).isEqualTo("ok");
        assertThat(a.finish()).as("max_tokens reached: the held text goes out").isEqualTo("</");
        TextAssembler b = new TextAssembler(BYTES, List.of(), Set.of(EOS));
        assertThat(String.join("", feed(b, 'h', 'i', EOS, 'x'))).isEqualTo("hi");
        assertThat(b.stopped()).isTrue();
        assertThat(b.completionTokens()).isEqualTo(3);
    }
}
