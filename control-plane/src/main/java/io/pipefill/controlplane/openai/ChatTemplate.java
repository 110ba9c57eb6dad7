package io.pipefill.controlplane.openai;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A model's {@code chat_template} (from its tokenizer_config.json), rendered with Jinjava the way transformers'
 * {@code apply_chat_template} renders it: blocks trimmed and left-stripped, the variables {@code messages},
 * {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}, and a {@code raise_exception} that fails
 * the rendering with the template's own message (a 400 for the client).
 */
public final class ChatTemplate {
    /** What a template's {@code raise_exception(message)} throws. */
    public static final class TemplateException extends RuntimeException {
        TemplateException(String message) {
            super(message);
        }
    }

    private static final Jinjava JINJA = jinja();

    private final String template;
    private final String bosToken;
    private final String eosToken;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
    }

    /** The prompt text for {@code messages} (each a role and a content), ending with the assistant's turn opened. */
    public String render(List<Map<String, Object>> messages) {
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("messages", messages);
        context.put("add_generation_prompt", true);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult r;
        try {
            r = JINJA.renderForResult(template, context);
        } catch (RuntimeException e) {
            throw unwrap(e);
        }
        List<TemplateError> fatal = r.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            for (TemplateError e : fatal) {
                if (e.getException() != null) {
                    RuntimeException raised = unwrap(e.getException());
                    if (raised instanceof TemplateException) {
                        throw raised;
                    }
                }
            }
            throw new TemplateException("the model's chat_template failed to render: " + fatal.stream()
                    .map(TemplateError::getMessage).collect(Collectors.joining("; ")));
        }
        return r.getOutput();
    }

    private static RuntimeException unwrap(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof TemplateException t) {
                return t;
            }
        }
        return new TemplateException("the model's chat_template failed to render: " + e.getMessage());
    }

    /** The template's {@code raise_exception}: its message reaches the client. */
    public static Object raiseException(String message) {
        throw new TemplateException("the model's chat_template refused the messages: " + message);
    }

    private static Jinjava jinja() {
        Jinjava j = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withFailOnUnknownTokens(false).withMaxOutputSize(64L << 20).build());
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
        return j;
    }
}
