package io.pipefill.controlplane.apikey;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** What to call a new key (who or what it is for). */
public record CreateApiKeyRequest(@NotBlank @Size(max = 200) String name) {
}
