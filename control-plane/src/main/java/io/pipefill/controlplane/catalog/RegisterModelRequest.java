package io.pipefill.controlplane.catalog;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * POST /api/v1/models: a name (used in URLs and deployment names, hence DNS-label-like) and the model directory,
 * a path under the models root (absolute, or relative to the root) that every worker host can read.
 */
public record RegisterModelRequest(
        @NotBlank(message = "must not be blank")
        @Size(max = 63, message = "must be 1 to 63 characters")
        @Pattern(regexp = "[a-z0-9][a-z0-9._-]*",
                message = "must start with a lower-case letter or digit and contain only a-z, 0-9, '.', '_' and '-'")
        String name,
        @NotBlank(message = "must not be blank: a model directory holding config.json and *.safetensors")
        @Size(max = 4096, message = "must be at most 4096 characters: a path under the models root")
        String location) {
}
