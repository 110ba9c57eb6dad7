package io.pipefill.controlplane.security;

import io.pipefill.controlplane.cluster.WorkerCredentials;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
import org.springframework.security.config.web.server.SecurityWebFiltersOrder;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.ServerAuthenticationEntryPoint;
import org.springframework.security.web.server.authentication.AuthenticationWebFilter;
import org.springframework.security.web.server.authentication.ServerAuthenticationConverter;
import org.springframework.security.web.server.authentication.ServerAuthenticationEntryPointFailureHandler;
import org.springframework.security.web.server.authorization.ServerAccessDeniedHandler;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;
import org.springframework.security.web.server.savedrequest.NoOpServerRequestCache;
import org.springframework.security.web.server.util.matcher.AndServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.NegatedServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.ServerWebExchangeMatchers;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Stateless bearer-token security: the admin token (role ADMIN) for {@code /api/**} except
 * {@code /api/v1/agent/**}. There the join token (role JOIN) admits a registration ({@code POST
 * /api/v1/agent/workers}) and nothing else; every other agent route takes the credential the registration
 * issued to the worker (role WORKER; the controllers check that it is the right worker's). No or unknown
 * token: 401; a known token on a route it is not for: 403. The OpenAI-compatible routes ({@code /v1/**}) take an
 * API key (role API) or the admin token, and answer 401/403 in OpenAI's error shape. Health, Prometheus and the OpenAPI document are public; other paths are
 * let through so that unknown routes answer 404 rather than 401.
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
public class SecurityConfig {
    private static final String BEARER = "Bearer ";
    private static final String[] PUBLIC = {"/actuator/health/**", "/actuator/prometheus", "/v3/api-docs/**"};
    private static final String REGISTRATION = "/api/v1/agent/workers";

    @Bean
    SecurityWebFilterChain securityWebFilterChain(ServerHttpSecurity http, TokenAuthenticationManager manager,
                                                  ProblemWriter problems) {
        ServerAuthenticationEntryPoint unauthorized = (exchange, e) -> isOpenAiRoute(exchange)
                ? problems.writeOpenAi(exchange, HttpStatus.UNAUTHORIZED, "invalid_api_key", "the OpenAI-compatible routes need "
                        + "'Authorization: Bearer <key>' with an API key (POST /api/v1/api-keys) or the admin token; "
                        + whatWasPresented(exchange))
                : problems.write(exchange, HttpStatus.UNAUTHORIZED,
                "this route needs 'Authorization: Bearer <token>' with " + tokenFor(exchange) + "; " + whatWasPresented(exchange));
        ServerAccessDeniedHandler forbidden = (exchange, e) -> isOpenAiRoute(exchange)
                ? problems.writeOpenAi(exchange, HttpStatus.FORBIDDEN, "forbidden",
                        "the OpenAI-compatible routes take an API key or the admin token")
                : problems.write(exchange, HttpStatus.FORBIDDEN,
                isRegistration(exchange)
                        ? "registration (POST " + REGISTRATION + ") takes the join token, nothing else"
                        : isAgentRoute(exchange)
                        ? "agent routes (/api/v1/agent/**) take the worker's own credential, issued at registration in the "
                                + WorkerCredentials.WORKER_CREDENTIAL_HEADER + " header; the join token only admits a registration"
                        : "this route takes the admin token; the join token only admits a worker's registration, an API key"
                                + " only the OpenAI-compatible routes (/v1/**)");

        AuthenticationWebFilter bearer = new AuthenticationWebFilter(manager);
        bearer.setServerAuthenticationConverter(bearerConverter());
        bearer.setAuthenticationFailureHandler(new ServerAuthenticationEntryPointFailureHandler(unauthorized));
        // only API and actuator routes look at the header: a stale token must not break a public health probe
        bearer.setRequiresAuthenticationMatcher(new AndServerWebExchangeMatcher(
                ServerWebExchangeMatchers.pathMatchers("/api/**", "/actuator/**", "/v1/**"),
                new NegatedServerWebExchangeMatcher(ServerWebExchangeMatchers.pathMatchers(PUBLIC))));
        bearer.setSecurityContextRepository(NoOpServerSecurityContextRepository.getInstance());

        return http
                .csrf(ServerHttpSecurity.CsrfSpec::disable)
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
                .logout(ServerHttpSecurity.LogoutSpec::disable)
                .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
                .requestCache(c -> c.requestCache(NoOpServerRequestCache.getInstance()))
                .addFilterAt(bearer, SecurityWebFiltersOrder.AUTHENTICATION)
                .authorizeExchange(ex -> ex
                        .pathMatchers(PUBLIC).permitAll()
                        .pathMatchers("/actuator/**").hasRole("ADMIN")
                        .pathMatchers(HttpMethod.POST, REGISTRATION).hasRole("JOIN")
                        .pathMatchers("/api/v1/agent/**").hasRole("WORKER")
                        .pathMatchers("/api/**").hasRole("ADMIN")
                        .pathMatchers("/v1/**").hasAnyRole("ADMIN", "API")
                        .anyExchange().permitAll())
                .exceptionHandling(e -> e.authenticationEntryPoint(unauthorized).accessDeniedHandler(forbidden))
                .build();
    }

    private static String tokenFor(ServerWebExchange exchange) {
        return isRegistration(exchange) ? "the join token"
                : isAgentRoute(exchange) ? "the worker credential issued at registration" : "the admin token";
    }

    private static boolean isRegistration(ServerWebExchange exchange) {
        return exchange.getRequest().getMethod() == HttpMethod.POST
                && exchange.getRequest().getPath().value().equals(REGISTRATION);
    }

    private static boolean isOpenAiRoute(ServerWebExchange exchange) {
        return exchange.getRequest().getPath().value().startsWith("/v1/");
    }

    private static boolean isAgentRoute(ServerWebExchange exchange) {
        return exchange.getRequest().getPath().value().startsWith("/api/v1/agent/");
    }

    private static String whatWasPresented(ServerWebExchange exchange) {
        String h = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        if (h == null) {
            return "no Authorization header was sent";
        }
        return h.regionMatches(true, 0, BEARER, 0, BEARER.length()) ? "the bearer token sent is not known"
                : "the Authorization header is not of the form 'Bearer <token>'";
    }

    /** Reads {@code Authorization: Bearer <token>}; anything else counts as no token (then 401 on /api). */
    private static ServerAuthenticationConverter bearerConverter() {
        return exchange -> {
            String h = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
            if (h == null || !h.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
                return Mono.empty();
            }
            String token = h.substring(BEARER.length()).trim();
            return token.isEmpty() ? Mono.empty() : Mono.just(new TokenAuthenticationManager.Presented(token));
        };
    }
}
