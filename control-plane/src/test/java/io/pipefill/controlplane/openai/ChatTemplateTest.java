package io.pipefill.controlplane.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pipefill.model.create.ModelGenerator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Jinja chat templates rendered as transformers renders them, checked against the text written out by hand. */
class ChatTemplateTest {
    @Test
    void theGeneratedModelsTemplateRendersTheMessagesAndOpensTheAssistantsTurn() {
        ChatTemplate t = new ChatTemplate(ModelGenerator.CHAT_TEMPLATE, "<|begin_of_text|>", "<|end_of_text|>");
        String out = t.render(List.of(Map.of("role", "system", "content", "You are terse."),
                Map.of("role", "user", "content", "Hi")));
        assertThat(out).isEqualTo("<|begin_of_text|><|system|>\nYou are terse.<|end_of_text|>\n<|user|>\nHi<|end_of_text|>\n"
                + "<|assistant|>\n");
    }

    /** The constructs real templates use: loop.first, string concatenation, trim_blocks, raise_exception. */
    @Test
    void realTemplateConstructsWorkAndRaiseExceptionReachesTheClient() {
        String llamaLike = """
                {% for message in messages %}
                {% if loop.first and message['role'] != 'system' %}{{ raise_exception('the first message must be the system prompt') }}{% endif %}
                {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
                {% endfor %}
                {% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}""";
        ChatTemplate t = new ChatTemplate(llamaLike, "<s>", "</s>");
        assertThat(t.render(List.of(Map.of("role", "system", "content", " be brief "), Map.of("role", "user", "content", "2+2?"))))
                .isEqualTo("<|start_header_id|>system<|end_header_id|>\n\nbe brief<|eot_id|>\n"
                        + "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>\n"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThatThrownBy(() -> t.render(List.of(Map.of("role", "user", "content", "hi"))))
                .isInstanceOf(ChatTemplate.TemplateException.class)
                .hasMessageContaining("the first message must be the system prompt");
    }
}
