package io.pipefill.controlplane.web;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The OpenAPI document at /v3/api-docs: title, version and the bearer scheme every /api route uses. */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfig {
    @Bean
    OpenAPI pipefillOpenApi() {
        return new OpenAPI()
                .info(new Info().title("pipefill control plane").version("v1")
                        .description("Cluster registry, models, planning, deployments and runs. Admin routes take the "
                                + "admin token, /api/v1/agent/** the join token, as 'Authorization: Bearer <token>'. The "
                                + "OpenAI-compatible routes (/v1/models, /v1/completions, /v1/chat/completions) take an API "
                                + "key (/api/v1/api-keys) or the admin token, and answer errors in OpenAI's shape."))
                .components(new Components().addSecuritySchemes("bearer", new SecurityScheme()
                        .type(SecurityScheme.Type.HTTP).scheme("bearer")
                        .description("the admin token (or the join token on /api/v1/agent/**, an API key on /v1/**)")))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }
}
