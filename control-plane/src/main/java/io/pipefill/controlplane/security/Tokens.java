package io.pipefill.controlplane.security;

import io.pipefill.controlplane.PipefillProperties;
import org.springframework.stereotype.Component;

/** TEMPORARY stand-in until the security package lands: the configured tokens. */
@Component
public class Tokens {
    private final PipefillProperties props;

    public Tokens(PipefillProperties props) {
        this.props = props;
    }

    public String admin() {
        return props.adminToken();
    }

    public String join() {
        return props.joinToken();
    }
}
