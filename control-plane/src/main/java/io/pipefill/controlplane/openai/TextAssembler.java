package io.pipefill.controlplane.openai;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Turns generated tokens, one at a time, into the text a client receives, as OpenAI's servers do: the whole
 * sequence is decoded each time and the new part handed out, held back while it ends in an incomplete UTF-8
 * character (the decoder's U+FFFD) or could be the start of a stop sequence; an end-of-sequence token or a stop
 * sequence ends the text (neither is part of it) with finish_reason "stop". Not thread-safe: one per request.
 */
final class TextAssembler {
    private final Function<int[], String> decode;
    private final List<String> stops;
    private final Set<Integer> eos;
    private final List<Integer> tokens = new ArrayList<>();
    private final StringBuilder sent = new StringBuilder();
    private boolean stopped;
    private int consumed;

    TextAssembler(Function<int[], String> decode, List<String> stops, Set<Integer> eos) {
        this.decode = decode;
        this.stops = List.copyOf(stops);
        this.eos = Set.copyOf(eos);
    }

    /** The text newly safe to send after {@code token} ("" when none); nothing once stopped. */
    String add(int token) {
        if (stopped) {
            return "";
        }
        consumed++;
        if (eos.contains(token)) {
            stopped = true;
            return "";
        }
        tokens.add(token);
        String full = decode.apply(tokens.stream().mapToInt(Integer::intValue).toArray());
        int stopAt = firstStop(full);
        if (stopAt >= 0) {
            stopped = true;
            return emitUpTo(full, stopAt);
        }
        if (full.endsWith("\uFFFD")) {
            return ""; // a character whose bytes are not all generated yet
        }
        return emitUpTo(full, full.length() - heldForStop(full));
    }

    /** The rest of the text when the generation ended without a stop (max_tokens reached). */
    String finish() {
        if (stopped || tokens.isEmpty()) {
            return "";
        }
        String full = decode.apply(tokens.stream().mapToInt(Integer::intValue).toArray());
        return emitUpTo(full, full.length());
    }

    boolean stopped() {
        return stopped;
    }

    /** Tokens generated up to and including the one that ended the text: the usage's completion_tokens. */
    int completionTokens() {
        return consumed;
    }

    String text() {
        return sent.toString();
    }

    private String emitUpTo(String full, int end) {
        // the decoded text grows at its end; should a decoder ever rewrite what was sent, only new characters go out
        int from = Math.min(sent.length(), full.length());
        if (end <= from) {
            return "";
        }
        String delta = full.substring(from, end);
        sent.append(delta);
        return delta;
    }

    /** Where the earliest stop sequence starts in the text not yet sent (and the last few characters before), or -1. */
    private int firstStop(String full) {
        int best = -1;
        for (String s : stops) {
            int from = Math.max(0, sent.length() - s.length() + 1);
            int i = full.indexOf(s, from);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    /** How many characters at the end of the text could begin a stop sequence, and wait for the next token. */
    private int heldForStop(String full) {
        int held = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, full.length()); k > held; k--) {
                if (full.endsWith(s.substring(0, k))) {
                    held = k;
                    break;
                }
            }
        }
        return held;
    }
}
