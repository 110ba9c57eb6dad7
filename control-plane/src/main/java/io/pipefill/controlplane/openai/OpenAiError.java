package io.pipefill.controlplane.openai;

/**
 * An error in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}}: what every answer on
 * {@code /v1/**} that is not a success looks like, so that OpenAI clients raise their own error types.
 */
public record OpenAiError(Detail error) {
    public record Detail(String message, String type, String param, String code) {
    }

    public static OpenAiError of(String message, String type, String param, String code) {
        return new OpenAiError(new Detail(message, type, param, code));
    }
}
