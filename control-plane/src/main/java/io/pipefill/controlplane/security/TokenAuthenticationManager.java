package io.pipefill.controlplane.security;

import io.pipefill.controlplane.apikey.ApiKeys;
import io.pipefill.controlplane.cluster.WorkerCredentials;
import io.pipefill.controlplane.cluster.WorkerIdentity;
import java.util.List;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Turns a presented bearer token into an authentication: role ADMIN (the admin token), JOIN (the join token,
 * which only admits a registration), WORKER (a worker's own credential, looked up by its hash; the principal
 * is the {@link WorkerIdentity}) or API (an API key for the OpenAI-compatible routes, looked up by its hash; the
 * principal is the key's name). Being a
 * {@link ReactiveAuthenticationManager} bean also keeps Boot from creating its default user and logging a
 * generated password.
 */
@Component
class TokenAuthenticationManager implements ReactiveAuthenticationManager {
    private final Tokens tokens;
    private final WorkerCredentials workers;
    private final ApiKeys apiKeys;

    TokenAuthenticationManager(Tokens tokens, WorkerCredentials workers, ApiKeys apiKeys) {
        this.tokens = tokens;
        this.workers = workers;
        this.apiKeys = apiKeys;
    }

    @Override
    public Mono<Authentication> authenticate(Authentication presented) {
        String token = String.valueOf(presented.getCredentials());
        String role = tokens.roleOf(token);
        if (role != null) {
            return Mono.just(new Authenticated(role, role.toLowerCase()));
        }
        if (ApiKeys.looksLikeKey(token)) {
            return Mono.fromCallable(() -> java.util.Optional.ofNullable(apiKeys.nameOf(token)))
                    .subscribeOn(Schedulers.boundedElastic())
                    .flatMap(name -> name.<Mono<Authentication>>map(n -> Mono.just(new Authenticated("API", n)))
                            .orElseGet(() -> Mono.error(new BadCredentialsException("unknown or revoked API key"))));
        }
        if (!WorkerCredentials.looksLikeCredential(token)) {
            // the message must not contain the token
            return Mono.error(new BadCredentialsException("unknown bearer token"));
        }
        // a database lookup: off the event loop
        return Mono.fromCallable(() -> workers.identify(token))
                .subscribeOn(Schedulers.boundedElastic())
                .flatMap(id -> id.<Mono<Authentication>>map(w -> Mono.just(new Authenticated("WORKER", w)))
                        .orElseGet(() -> Mono.error(new BadCredentialsException("unknown bearer token"))));
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

    /** A checked token: the principal is the role's name or the worker's identity, credentials are dropped. */
    static final class Authenticated extends AbstractAuthenticationToken {
        private final Object principal;

        Authenticated(String role, Object principal) {
            super(List.of(new SimpleGrantedAuthority("ROLE_" + role)));
            this.principal = principal;
            setAuthenticated(true);
        }

        @Override
        public Object getCredentials() {
            return null;
        }

        @Override
        public Object getPrincipal() {
            return principal;
        }
    }
}
