package io.pipefill.controlplane.openai;

import io.pipefill.model.pipeline.SamplingSettings;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * The fields of a {@code /v1/completions} or {@code /v1/chat/completions} body that pipefill acts on, read
 * leniently as OpenAI does (unknown fields, and {@code user}, are ignored) but checked strictly: a bad value is a
 * 400 naming the field and what it may be.
 *
 * @param prompt    the completion's prompt: a string, or token ids (null for a chat)
 * @param messages  the chat's messages, role and content each (null for a completion)
 * @param maxTokens null when not given (the route's default applies)
 * @param stops     up to 4 stop sequences
 */
record GenerationRequest(String model, Object prompt, List<Map<String, Object>> messages, Integer maxTokens,
                         SamplingSettings sampling, List<String> stops, boolean stream, boolean includeUsage) {
    static final int MAX_STOPS = 4;
    private static final SecureRandom SEEDS = new SecureRandom();

    static GenerationRequest completion(JsonNode body) {
        requireObject(body);
        JsonNode p = body.get("prompt");
        Object prompt;
        if (p == null || p.isNull()) {
            throw OpenAiException.invalid("prompt", "prompt is required: a string, or an array of token ids");
        } else if (p.isString()) {
            prompt = p.asString();
        } else if (p.isArray() && !p.isEmpty() && allIntegers(p)) {
            List<Integer> ids = new ArrayList<>();
            p.forEach(n -> ids.add(n.intValue()));
            prompt = ids;
        } else if (p.isArray() && p.size() == 1 && p.get(0).isString()) {
            prompt = p.get(0).asString();
        } else {
            throw OpenAiException.invalid("prompt", "prompt must be a string or a non-empty array of token ids"
                    + " (a batch of several prompts is not supported: send one request per prompt)");
        }
        return common(body, prompt, null, integer(body, "max_tokens"));
    }

    static GenerationRequest chat(JsonNode body) {
        requireObject(body);
        JsonNode m = body.get("messages");
        if (m == null || !m.isArray() || m.isEmpty()) {
            throw OpenAiException.invalid("messages", "messages must be a non-empty array of {role, content}");
        }
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode msg = m.get(i);
            String where = "messages[" + i + "]";
            if (!msg.isObject() || !msg.path("role").isString()) {
                throw OpenAiException.invalid(where, where + " must be an object with a string role");
            }
            messages.add(Map.of("role", msg.get("role").asString(), "content", content(msg.get("content"), where)));
        }
        Integer max = integer(body, "max_completion_tokens");
        return common(body, null, messages, max != null ? max : integer(body, "max_tokens"));
    }

    /** A message's content: a string, or a list of text parts (the only kind of part a text model takes). */
    private static String content(JsonNode c, String where) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isString()) {
            return c.asString();
        }
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!"text".equals(part.path("type").asString("")) || !part.path("text").isString()) {
                    throw OpenAiException.invalid(where + ".content", where + ".content: only text parts"
                            + " ({\"type\": \"text\", \"text\": ...}) are supported");
                }
                sb.append(part.get("text").asString());
            }
            return sb.toString();
        }
        throw OpenAiException.invalid(where + ".content", where + ".content must be a string or an array of text parts");
    }

    private static GenerationRequest common(JsonNode body, Object prompt, List<Map<String, Object>> messages,
                                            Integer maxTokens) {
        JsonNode model = body.get("model");
        if (model == null || !model.isString() || model.asString().isBlank()) {
            throw OpenAiException.invalid("model", "model is required: a deployment's name (GET /v1/models lists them)");
        }
        Integer n = integer(body, "n");
        if (n != null && n != 1) {
            throw OpenAiException.invalid("n", "n = " + n + " is not supported: pipefill generates one choice per"
                    + " request (n = 1)");
        }
        Integer bestOf = integer(body, "best_of");
        if (bestOf != null && bestOf != 1) {
            throw OpenAiException.invalid("best_of", "best_of = " + bestOf + " is not supported (only 1)");
        }
        if (maxTokens != null && maxTokens < 1) {
            throw OpenAiException.invalid("max_tokens", "max_tokens must be at least 1, got " + maxTokens);
        }
        double temperature = number(body, "temperature", 1.0);
        double topP = number(body, "top_p", 1.0);
        Integer topK = integer(body, "top_k");
        if (topK != null && topK < -1) {
            throw OpenAiException.invalid("top_k", "top_k must be -1 or 0 (no limit) or positive, got " + topK);
        }
        JsonNode seedNode = body.get("seed");
        long seed;
        if (seedNode == null || seedNode.isNull()) {
            seed = SEEDS.nextLong();
        } else if (seedNode.isIntegralNumber() && seedNode.canConvertToLong()) {
            seed = seedNode.longValue();
        } else {
            throw OpenAiException.invalid("seed", "seed must be an integer");
        }
        SamplingSettings sampling;
        try {
            sampling = new SamplingSettings(temperature, topP, topK == null || topK < 0 ? 0 : topK, seed);
        } catch (IllegalArgumentException e) {
            String param = e.getMessage().substring(0, e.getMessage().indexOf(':'));
            throw OpenAiException.invalid(param, e.getMessage());
        }
        boolean stream = bool(body, "stream");
        JsonNode options = body.get("stream_options");
        boolean includeUsage = false;
        if (options != null && !options.isNull()) {
            if (!stream) {
                throw OpenAiException.invalid("stream_options", "stream_options is only allowed with stream = true");
            }
            includeUsage = options.isObject() && options.path("include_usage").isBoolean()
                    && options.get("include_usage").booleanValue();
        }
        return new GenerationRequest(model.asString(), prompt, messages, maxTokens, sampling, stops(body.get("stop")),
                stream, includeUsage);
    }

    private static List<String> stops(JsonNode s) {
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> stops = new ArrayList<>();
        if (s.isString()) {
            stops.add(s.asString());
        } else if (s.isArray()) {
            for (JsonNode one : s) {
                if (!one.isString()) {
                    throw OpenAiException.invalid("stop", "stop must be a string or an array of strings");
                }
                stops.add(one.asString());
            }
        } else {
            throw OpenAiException.invalid("stop", "stop must be a string or an array of strings");
        }
        if (stops.size() > MAX_STOPS) {
            throw OpenAiException.invalid("stop", "at most " + MAX_STOPS + " stop sequences, got " + stops.size());
        }
        if (stops.stream().anyMatch(String::isEmpty)) {
            throw OpenAiException.invalid("stop", "a stop sequence must not be empty");
        }
        return stops;
    }

    private static void requireObject(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw OpenAiException.invalid(null, "the request body must be a JSON object");
        }
    }

    private static boolean allIntegers(JsonNode a) {
        for (JsonNode n : a) {
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                return false;
            }
        }
        return true;
    }

    private static Integer integer(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw OpenAiException.invalid(field, field + " must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static double number(JsonNode body, String field, double otherwise) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return otherwise;
        }
        if (!v.isNumber()) {
            throw OpenAiException.invalid(field, field + " must be a number, got " + v);
        }
        return v.doubleValue();
    }

    private static boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw OpenAiException.invalid(field, field + " must be true or false, got " + v);
        }
        return v.booleanValue();
    }
}
