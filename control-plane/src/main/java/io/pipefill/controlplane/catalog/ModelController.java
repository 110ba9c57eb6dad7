package io.pipefill.controlplane.catalog;

import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.common.NotFoundException;
import jakarta.validation.Valid;
import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Registered models (admin token). */
@RestController
@RequestMapping("/api/v1/models")
class ModelController {
    private final ModelRegistrar registrar;
    private final ModelRepository models;

    ModelController(ModelRegistrar registrar, ModelRepository models) {
        this.registrar = registrar;
        this.models = models;
    }

    /** 201 with Location; 400 when the directory is not a loadable model, 409 when the name is taken. */
    @PostMapping
    Mono<ResponseEntity<RegisteredModel>> register(@Valid @RequestBody RegisterModelRequest request) {
        return Blocking.call(() -> registrar.register(request.name(), request.location()))
                .map(m -> ResponseEntity.created(URI.create("/api/v1/models/" + m.id())).body(m));
    }

    @GetMapping
    Mono<List<RegisteredModel>> all() {
        return Blocking.call(models::all);
    }

    /** By id or by name. */
    @GetMapping("/{idOrName}")
    Mono<RegisteredModel> one(@PathVariable String idOrName) {
        return Blocking.call(() -> models.byIdOrName(idOrName).orElseThrow(() -> new NotFoundException("model", idOrName)));
    }
}
