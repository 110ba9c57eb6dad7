package io.pipefill.worker.comm;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The secret every rank of one run shares (256 random bits, made by whoever starts the run: the control plane
 * per run, the local coordinator per launch) and proves at the data-port handshake with HMAC-SHA256, so that a
 * data port admits only the run's own ranks. It travels base64url-encoded over channels that are already
 * authenticated (the control plane's call to the agent, a launched worker's environment) and never in a log or
 * a command line: {@link #toString} hides it.
 */
public final class RunSecret {
    public static final int BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] key;

    private RunSecret(byte[] key) {
        this.key = key;
    }

    public static RunSecret generate() {
        byte[] k = new byte[BYTES];
        RANDOM.nextBytes(k);
        return new RunSecret(k);
    }

    /** Reads a secret from its base64url text; the message names {@code what} and never echoes the value. */
    public static RunSecret parse(String text, String what) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException(what + " is missing: a run needs its " + BYTES + "-byte secret (base64url)");
        }
        byte[] k;
        try {
            k = Base64.getUrlDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " is not base64url text");
        }
        if (k.length != BYTES) {
            throw new IllegalArgumentException(what + " must decode to " + BYTES + " bytes, got " + k.length);
        }
        return new RunSecret(k);
    }

    public String encoded() {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(key);
    }

    /** HMAC-SHA256 of {@code label}: what a launched worker shows its coordinator to prove it holds the secret. */
    public byte[] tag(String label) {
        return proof(label, 0, 0, new byte[0], new byte[0]);
    }

    /** Whether {@code tag} is this secret's tag of {@code label} (compared in constant time). */
    public boolean verifies(String label, byte[] tag) {
        return tag != null && same(tag, tag(label));
    }

    /** HMAC-SHA256 over a label, the two ranks and the two challenges: binds a proof to one direction of one pair. */
    byte[] proof(String label, int lowerRank, int higherRank, byte[] lowerChallenge, byte[] higherChallenge) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(label.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            mac.update(ByteBuffer.allocate(8).putInt(lowerRank).putInt(higherRank).array());
            mac.update(lowerChallenge);
            mac.update(higherChallenge);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    /** Constant time, so that a peer learns nothing from how long a wrong proof took to refuse. */
    static boolean same(byte[] a, byte[] b) {
        return MessageDigest.isEqual(a, b);
    }

    static byte[] challenge() {
        byte[] c = new byte[BYTES];
        RANDOM.nextBytes(c);
        return c;
    }

    @Override
    public String toString() {
        return "RunSecret[hidden]";
    }
}
