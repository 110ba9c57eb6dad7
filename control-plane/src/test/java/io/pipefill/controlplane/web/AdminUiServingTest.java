package io.pipefill.controlplane.web;

import io.pipefill.controlplane.ApiTestSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web UI (built from ../ui into the jar's static resources) loads at / without a token, its assets too,
 * while every /api route still needs the admin token. Skipped where the build had no Node to build the UI.
 */
class AdminUiServingTest extends ApiTestSupport {

    @BeforeEach
    void uiWasBuilt() {
        Assumptions.assumeTrue(getClass().getResource("/static/index.html") != null,
                "the web UI was not built (no Node.js/npm at build time): nothing to serve at /");
    }

    @Test
    void theUiAndItsAssetsLoadWithoutAToken() {
        String html = web.get().uri("/").exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_HTML)
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(html).contains("<div id=\"root\">");
        Matcher script = Pattern.compile("src=\"(/assets/[^\"]+\\.js)\"").matcher(html);
        assertThat(script.find()).as("index.html loads its script from /assets: %s", html).isTrue();
        web.get().uri(script.group(1)).exchange().expectStatus().isOk()
                .expectBody(String.class).value(js -> assertThat(js).contains("/api/v1/runs"));
        // a stale token in the browser must not break the page itself
        web.get().uri("/index.html").headers(h -> h.setBearerAuth("stale")).exchange().expectStatus().isOk();
    }

    @Test
    void theApiBehindTheUiStillNeedsTheAdminToken() {
        web.get().uri("/api/v1/runs").exchange().expectStatus().isUnauthorized();
        web.get().uri("/api/v1/runs").headers(h -> h.setBearerAuth(JOIN)).exchange().expectStatus().isForbidden();
        web.get().uri("/api/v1/runs").headers(h -> h.setBearerAuth(ADMIN)).exchange().expectStatus().isOk();
    }
}
