package io.pipefill.controlplane.openai;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * A generation's answer in OpenAI's shapes: {@code text_completion} / {@code chat.completion} whole, or the stream's
 * chunks ({@code chat.completion.chunk}: the assistant's role first, then content deltas, then the finish reason;
 * with {@code stream_options.include_usage} every chunk carries {@code "usage": null} and a last chunk with no
 * choices carries the usage). Prompt progress becomes SSE comment lines, which clients skip. One per request.
 */
final class OpenAiChunks {
    private final OpenAiGeneration.Started s;
    private final boolean chat;
    private final String id;
    private final long created;
    private boolean roleSent;
    private boolean ended;

    OpenAiChunks(OpenAiGeneration.Started s, boolean chat) {
        this.s = s;
        this.chat = chat;
        this.id = (chat ? "chatcmpl-" : "cmpl-") + s.run().id();
        this.created = s.run().submittedAt().getEpochSecond();
    }

    boolean ended() {
        return ended;
    }

    /** The stream's frames for one step, each a whole server-sent event written as OpenAI writes them. */
    List<String> events(GenerationStep step, JsonMapper json) {
        List<String> out = new ArrayList<>();
        if (step instanceof GenerationStep.Waiting w) {
            out.add(comment(w.note()));
            return out;
        }
        if (step instanceof GenerationStep.Failed f) {
            out.add(data(json, OpenAiError.of(f.message(), "server_error", null, "run_failed")));
            return out;
        }
        if (chat && !roleSent) {
            roleSent = true;
            out.add(data(json, chunk(Map.of("role", "assistant", "content", ""), null)));
        }
        if (step instanceof GenerationStep.Text t) {
            out.add(data(json, chunk(chat ? Map.of("content", t.delta()) : t.delta(), null)));
        } else if (step instanceof GenerationStep.End e) {
            ended = true;
            out.add(data(json, chunk(chat ? Map.of() : "", e.finishReason())));
            if (s.request().includeUsage()) {
                Map<String, Object> last = head(chat ? "chat.completion.chunk" : "text_completion");
                last.put("choices", List.of());
                last.put("usage", usage(e));
                out.add(data(json, last));
            }
        }
        return out;
    }

    /** The whole answer from a finished generation's steps. */
    Map<String, Object> whole(List<GenerationStep> steps) {
        StringBuilder text = new StringBuilder();
        GenerationStep.End end = null;
        for (GenerationStep step : steps) {
            if (step instanceof GenerationStep.Text t) {
                text.append(t.delta());
            } else if (step instanceof GenerationStep.End e) {
                end = e;
            }
        }
        if (end == null) {
            throw new IllegalStateException("the generation of run " + s.run().id() + " ended without an end step");
        }
        Map<String, Object> body = head(chat ? "chat.completion" : "text_completion");
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) {
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("role", "assistant");
            message.put("content", text.toString());
            choice.put("message", message);
        } else {
            choice.put("text", text.toString());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", end.finishReason());
        body.put("choices", List.of(choice));
        body.put("usage", usage(end));
        return body;
    }

    private Map<String, Object> chunk(Object content, String finishReason) {
        Map<String, Object> body = head(chat ? "chat.completion.chunk" : "text_completion");
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        choice.put(chat ? "delta" : "text", content);
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason);
        body.put("choices", List.of(choice));
        if (s.request().includeUsage()) {
            body.put("usage", null);
        }
        return body;
    }

    private Map<String, Object> head(String object) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id);
        body.put("object", object);
        body.put("created", created);
        body.put("model", s.model());
        return body;
    }

    private static Map<String, Object> usage(GenerationStep.End e) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", e.promptTokens());
        u.put("completion_tokens", e.completionTokens());
        u.put("total_tokens", e.promptTokens() + e.completionTokens());
        return u;
    }

    /** {@code data: <json>} and a blank line (the JSON has no line breaks). */
    private static String data(JsonMapper json, Object body) {
        return "data: " + json.writeValueAsString(body) + "\n\n";
    }

    /** A comment line, which SSE clients skip: it keeps the connection alive and says how the prefill goes. */
    static String comment(String note) {
        return ": " + note.replace('\n', ' ').replace('\r', ' ') + "\n\n";
    }

    static final String DONE = "data: [DONE]\n\n";
}
