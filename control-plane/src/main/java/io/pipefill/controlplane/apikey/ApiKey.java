package io.pipefill.controlplane.apikey;

import java.time.Instant;
import java.util.UUID;

/** An API key as listed: never the key itself, only its first characters ({@code prefix}) to tell keys apart. */
public record ApiKey(UUID id, String name, String prefix, Instant createdAt, Instant revokedAt) {
}
