package io.pipefill.controlplane.run;

/** How a run's prompt was given: text (tokenized with the model's tokenizer), token ids, or N random tokens. */
public enum PromptKind { TEXT, TOKENS, RANDOM }
