package io.pipefill.model;

import java.security.SecureRandom;
import java.util.Base64;

/**
 * Unguessable tokens as text: 256 random bits, base64url without padding (43 characters). Every secret pipefill
 * makes — admin and join tokens, worker credentials and agent tokens, a run's data-port secret — is one of these.
 */
public final class RandomTokens {
    private static final SecureRandom RANDOM = new SecureRandom();

    private RandomTokens() {
    }

    public static String next() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
