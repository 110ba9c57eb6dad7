package io.pipefill.controlplane.security;

import java.util.List;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Turns a presented bearer token into an authentication with role ADMIN or WORKER. Being a
 * {@link ReactiveAuthenticationManager} bean also keeps Boot from creating its default user and logging a
 * generated password.
 */
@Component
class TokenAuthenticationManager implements ReactiveAuthenticationManager {
    private final Tokens tokens;

    TokenAuthenticationManager(Tokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public Mono<Authentication> authenticate(Authentication presented) {
        String role = tokens.roleOf(String.valueOf(presented.getCredentials()));
        if (role == null) {
            // the message must not contain the token
            return Mono.error(new BadCredentialsException("unknown bearer token"));
        }
        return Mono.just(new Authenticated(role));
    }

    /** A presented, not yet checked token. toString never shows it. */
    static final class Presented extends AbstractAuthenticationToken {
        private final String token;

        Presented(String token) {
            super(List.of());
            this.token = token;
        }

        @Override
        public Object getCredentials() {
            return token;
        }

        @Override
        public Object getPrincipal() {
            return "bearer";
        }

        @Override
        public String toString() {
            return "Presented[bearer token]";
        }
    }

    /** A checked token: the principal is the role's name, credentials are dropped. */
    static final class Authenticated extends AbstractAuthenticationToken {
        private final String role;

        Authenticated(String role) {
            super(List.of(new SimpleGrantedAuthority("ROLE_" + role)));
            this.role = role;
            setAuthenticated(true);
        }

        @Override
        public Object getCredentials() {
            return null;
        }

        @Override
        public Object getPrincipal() {
            return role.toLowerCase();
        }
    }
}
