package io.pipefill.controlplane.security;

import io.pipefill.controlplane.ApiTestSupport;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

class ApiSecurityTest extends ApiTestSupport {

    @Test
    void noTokenIs401ProblemJson() {
        web.get().uri("/api/v1/nodes").exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
                .expectBody().jsonPath("$.status").isEqualTo(401)
                .jsonPath("$.detail").value(d -> org.assertj.core.api.Assertions.assertThat((String) d)
                        .contains("admin token").contains("no Authorization header"));
    }

    @Test
    void unknownTokenIs401AndNeverEchoed() {
        web.get().uri("/api/v1/nodes").headers(h -> h.setBearerAuth("not-a-token")).exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(String.class).value(b -> org.assertj.core.api.Assertions.assertThat(b)
                        .contains("not known").doesNotContain("not-a-token"));
        web.post().uri("/api/v1/agent/workers").header(HttpHeaders.AUTHORIZATION, "Basic dXNlcjpwdw==")
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.detail").value(d -> org.assertj.core.api.Assertions.assertThat((String) d)
                        .contains("join token").contains("not of the form 'Bearer <token>'"));
    }

    @Test
    void joinTokenOnAdminRouteIs403() {
        web.get().uri("/api/v1/workers").headers(h -> h.setBearerAuth(JOIN)).exchange()
                .expectStatus().isForbidden()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.status").isEqualTo(403)
                .jsonPath("$.detail").value(d -> org.assertj.core.api.Assertions.assertThat((String) d).contains("admin token"));
    }

    @Test
    void adminTokenOnAgentRouteIs403() {
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(ADMIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(registration("n", "http://h:1")).exchange()
                .expectStatus().isForbidden()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> org.assertj.core.api.Assertions.assertThat((String) d)
                        .contains("join token"));
    }

    @Test
    void healthPrometheusAndApiDocsArePublic() {
        web.get().uri("/actuator/health").exchange().expectStatus().isOk();
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk();
        web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk();
        // a stale token must not turn a public probe into a 401
        web.get().uri("/actuator/health").headers(h -> h.setBearerAuth("stale")).exchange().expectStatus().isOk();
        web.get().uri("/v3/api-docs").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.info.title").isEqualTo("pipefill control plane")
                .jsonPath("$.info.version").isEqualTo("v1")
                .jsonPath("$.components.securitySchemes.bearer.scheme").isEqualTo("bearer")
                .jsonPath("$.paths['/api/v1/agent/workers']").exists()
                .jsonPath("$.paths['/api/v1/plans']").exists()
                .jsonPath("$.paths['/api/v1/runs/{id}/cancel'].post").exists();
        // other actuator endpoints are the operator's
        web.get().uri("/actuator/metrics").exchange().expectStatus().isUnauthorized();
    }

    @Test
    void unknownRoutesAre404ProblemJson() {
        web.get().uri("/nothing-here").exchange()
                .expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> org.assertj.core.api.Assertions.assertThat((String) d)
                        .contains("/nothing-here").contains("/api/v1"));
        adminGet("/api/v1/no-such-thing").exchange()
                .expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        web.delete().uri("/api/v1/nodes").headers(h -> h.setBearerAuth(ADMIN)).exchange()
                .expectStatus().isEqualTo(405)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
    }
}
