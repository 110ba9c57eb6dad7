package io.pipefill.controlplane.openai;

/** What a generation's event stream tells a client, in order: text, prompt progress and waits, then how it ended. */
sealed interface GenerationStep {
    /** New text, safe to send (no partial character, no possible start of a stop sequence). */
    record Text(String delta) implements GenerationStep {
    }

    /** The prompt's prefill advanced (chunk of chunks through the last stage), or nothing happened for a while. */
    record Waiting(String note) implements GenerationStep {
    }

    /** The generation ended: finish_reason "stop" or "length", and the usage. */
    record End(String finishReason, int promptTokens, int completionTokens) implements GenerationStep {
    }

    /** The run failed or was cancelled through the run API. */
    record Failed(String message) implements GenerationStep {
    }
}
