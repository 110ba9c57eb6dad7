package io.pipefill.controlplane.apikey;

/** A key just created: {@code key} is the secret, shown this once (only its hash is stored). */
public record CreatedApiKey(ApiKey apiKey, String key) {
}
