package io.pipefill.controlplane.openai;

import io.pipefill.model.ModelDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the OpenAI routes read from a model's directory besides its weights: the tokenizer (to tokenize prompts and
 * to turn generated tokens back into text), the chat template with its BOS/EOS strings (tokenizer_config.json), and
 * the end-of-sequence token ids (config.json's {@code eos_token_id}, a number or a list) that end a generation with
 * finish_reason "stop".
 */
record ServedModel(Path tokenizerJson, Optional<ChatTemplate> chatTemplate, Set<Integer> eosTokenIds) {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    static ServedModel read(ModelDirectory md, Path tokenizerJson) {
        JsonNode tokenizerConfig = readJson(md.path().resolve("tokenizer_config.json"));
        Optional<ChatTemplate> template = Optional.empty();
        if (tokenizerConfig != null) {
            String t = templateText(tokenizerConfig.get("chat_template"));
            if (t != null && !t.isBlank()) {
                template = Optional.of(new ChatTemplate(t, tokenText(tokenizerConfig.get("bos_token")),
                        tokenText(tokenizerConfig.get("eos_token"))));
            }
        }
        Set<Integer> eos = new HashSet<>();
        JsonNode config = readJson(md.path().resolve("config.json"));
        JsonNode e = config == null ? null : config.get("eos_token_id");
        if (e != null && e.isIntegralNumber()) {
            eos.add(e.intValue());
        } else if (e != null && e.isArray()) {
            e.forEach(n -> eos.add(n.intValue()));
        }
        return new ServedModel(tokenizerJson, template, Set.copyOf(eos));
    }

    /** A template is a string, or a list of named ones ({@code default} is the chat one). */
    private static String templateText(JsonNode t) {
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isString()) {
            return t.asString();
        }
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asString(""))) {
                    return named.path("template").asString(null);
                }
            }
        }
        return null;
    }

    /** A special token is a string or an AddedToken object with its {@code content}. */
    private static String tokenText(JsonNode t) {
        if (t == null || t.isNull()) {
            return "";
        }
        return t.isObject() ? t.path("content").asString("") : t.asString("");
    }

    private static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return JSON.readTree(Files.readString(file));
        } catch (IOException | RuntimeException ex) {
            throw new IllegalStateException(file + ": cannot read it as JSON: " + ex.getMessage(), ex);
        }
    }
}
