package io.pipefill.controlplane.run;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;
import java.util.List;

/**
 * A run to submit on a deployment (id or name). The prompt is exactly one of: {@code text} (tokenized with
 * the model's tokenizer.json), {@code tokenIds}, or {@code randomTokens} N uniformly random ids (with
 * {@code seed}). {@code maxNewTokens} tokens are generated greedily after the prompt (default 1). The prompt must fit
 * the deployment's {@code maxTokens}; a text is measured before it is tokenized (see {@link PromptLimits}).
 */
public record SubmitRunRequest(@NotBlank @Size(max = 256, message = "must be at most 256 characters: a deployment's id or name")
                               String deployment, String text, List<Integer> tokenIds,
                               @Min(1) @Max(16_777_216) Integer randomTokens, Long seed,
                               @Min(1) @Max(4096) Integer maxNewTokens) {

    public int maxNewTokensOrDefault() {
        return maxNewTokens == null ? 1 : maxNewTokens;
    }
}
