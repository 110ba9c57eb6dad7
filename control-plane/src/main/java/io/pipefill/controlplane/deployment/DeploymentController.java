package io.pipefill.controlplane.deployment;

import io.pipefill.controlplane.common.Blocking;
import jakarta.validation.Valid;
import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Deployments: create from a plan or an explicit layout, list, get (by id or name), delete. */
@RestController
@RequestMapping("/api/v1/deployments")
public class DeploymentController {
    private final DeploymentService service;

    public DeploymentController(DeploymentService service) {
        this.service = service;
    }

    @PostMapping
    public Mono<ResponseEntity<Deployment>> create(@Valid @RequestBody CreateDeploymentRequest request) {
        return Blocking.call(() -> service.create(request))
                .map(d -> ResponseEntity.created(URI.create("/api/v1/deployments/" + d.id())).body(d));
    }

    @GetMapping
    public Mono<List<Deployment>> list(@RequestParam(defaultValue = "false") boolean includeDeleted) {
        return Blocking.call(() -> service.list(includeDeleted));
    }

    @GetMapping("/{ref}")
    public Mono<Deployment> get(@PathVariable String ref) {
        return Blocking.call(() -> service.get(ref));
    }

    @DeleteMapping("/{ref}")
    public Mono<ResponseEntity<Void>> delete(@PathVariable String ref) {
        return Blocking.run(() -> service.delete(service.get(ref).id())).thenReturn(ResponseEntity.noContent().build());
    }
}
