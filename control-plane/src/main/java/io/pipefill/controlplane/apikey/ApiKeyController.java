package io.pipefill.controlplane.apikey;

import io.pipefill.controlplane.common.Blocking;
import jakarta.validation.Valid;
import java.net.URI;
import java.util.List;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * API keys for the OpenAI-compatible {@code /v1} routes (admin token only, like every {@code /api} route): create
 * (the answer holds the key, the only time it is shown), list, revoke.
 */
@RestController
@RequestMapping("/api/v1/api-keys")
public class ApiKeyController {
    private final ApiKeys keys;

    public ApiKeyController(ApiKeys keys) {
        this.keys = keys;
    }

    @PostMapping
    public Mono<ResponseEntity<CreatedApiKey>> create(@Valid @RequestBody CreateApiKeyRequest request) {
        return Blocking.call(() -> keys.create(request.name()))
                .map(k -> ResponseEntity.created(URI.create("/api/v1/api-keys/" + k.apiKey().id())).body(k));
    }

    @GetMapping
    public Mono<List<ApiKey>> list() {
        return Blocking.call(keys::list);
    }

    @GetMapping("/{id}")
    public Mono<ApiKey> get(@PathVariable UUID id) {
        return Blocking.call(() -> keys.get(id));
    }

    @PostMapping("/{id}/revoke")
    public Mono<ApiKey> revoke(@PathVariable UUID id) {
        return Blocking.call(() -> keys.revoke(id));
    }
}
