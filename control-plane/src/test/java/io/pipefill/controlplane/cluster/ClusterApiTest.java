package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentRepository;
import io.pipefill.controlplane.deployment.DeploymentState;
import io.pipefill.controlplane.deployment.Placement;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;

class ClusterApiTest extends ApiTestSupport {
    @Autowired
    ClusterRepository cluster;
    @Autowired
    DeploymentRepository deployments;
    @Autowired
    ModelRegistrar registrar;

    @Test
    void workersLostLongAgoLeaveTheListsUnlessALiveDeploymentHoldsThem() throws Exception {
        String node = unique("retired-node");
        Instant longAgo = Instant.now().minus(Duration.ofHours(2)); // the test profile keeps the 1 h retention
        Worker retired = cluster.register(registration(node, "http://" + node + ":9100"), longAgo);
        Worker held = cluster.register(registration(node, "http://" + node + ":9101"), longAgo);
        Worker recent = cluster.register(registration(node, "http://" + node + ":9102"), Instant.now().minusSeconds(60));
        Worker live = cluster.register(registration(node, "http://" + node + ":9103"), Instant.now());
        cluster.markLostById(List.of(retired.id(), held.id(), recent.id()));
        // a DEGRADED deployment still holds one of the long-lost workers: that one stays in view
        Path dir = Files.createTempDirectory("pipefill-retired-").resolve("tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 2).write(dir);
        RegisteredModel model = registrar.register(unique("tiny-retired"), dir.toString());
        deployments.insert(new Deployment(UUID.randomUUID(), unique("degraded"), model.id(), 1, 1, List.of(model.layers()), 64,
                false, 0.75, 1024, 1, DeploymentState.DEGRADED, "worker lost", List.of(new Placement(0, 0, 0, held.id())),
                null, null));

        adminGet("/api/v1/workers").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$[?(@.id == '" + retired.id() + "')]").doesNotExist()
                .jsonPath("$[?(@.id == '" + held.id() + "')].state").isEqualTo("LOST")
                .jsonPath("$[?(@.id == '" + recent.id() + "')].state").isEqualTo("LOST")
                .jsonPath("$[?(@.id == '" + live.id() + "')]").exists();
        adminGet("/api/v1/workers?state=LOST").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$[?(@.id == '" + retired.id() + "')]").exists()
                .jsonPath("$[?(@.id == '" + held.id() + "')]").exists()
                .jsonPath("$[?(@.id == '" + recent.id() + "')]").exists();
        adminGet("/api/v1/nodes/{id}", retired.nodeId()).exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.workers.length()").isEqualTo(3)
                .jsonPath("$.workers[?(@.id == '" + retired.id() + "')]").doesNotExist();
        adminGet("/api/v1/workers/{id}", retired.id()).exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.state").isEqualTo("LOST");
        // the gauges count what the list shows (the database is shared: at least this test's retired one is left out)
        long currentLost = cluster.currentWorkersByState(Instant.now().minus(Duration.ofHours(1))).getOrDefault("LOST", 0L);
        long allLost = cluster.workers().stream().filter(w -> w.state() == WorkerState.LOST).count();
        assertThat(allLost - currentLost).isGreaterThanOrEqualTo(1);
    }

    @Test
    void listsNodesAndANodeWithItsWorkers() {
        String node = unique("list-node");
        RegistrationAccepted a = register(registration(node, "http://" + node + ":9100"));
        RegistrationAccepted b = register(registration(node, "http://" + node + ":9101"));
        adminGet("/api/v1/nodes").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[?(@.name == '" + node + "')].health").isEqualTo("HEALTHY")
                .jsonPath("$[?(@.name == '" + node + "')].labels.zone").isEqualTo("test");
        adminGet("/api/v1/nodes/{id}", a.nodeId()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.node.name").isEqualTo(node)
                .jsonPath("$.workers.length()").isEqualTo(2)
                .jsonPath("$.workers[0].id").isEqualTo(a.workerId())
                .jsonPath("$.workers[1].id").isEqualTo(b.workerId())
                .jsonPath("$.workers[1].agentUrl").isEqualTo("http://" + node + ":9101");
        adminGet("/api/v1/workers").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[?(@.id == '" + a.workerId() + "')].backend").isEqualTo("cpu");
    }

    @Test
    void unknownIdsAre404() {
        adminGet("/api/v1/nodes/{id}", UUID.randomUUID()).exchange().expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).startsWith("node "));
        adminGet("/api/v1/workers/{id}", UUID.randomUUID()).exchange().expectStatus().isNotFound();
        adminPost("/api/v1/workers/{id}/drain", null, UUID.randomUUID()).expectStatus().isNotFound();
        adminPost("/api/v1/nodes/{id}/drain", null, UUID.randomUUID()).expectStatus().isNotFound();
        adminGet("/api/v1/nodes/{id}", "node-7").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").isEqualTo("path variable 'id': 'node-7' is not a UUID");
    }

    @Test
    void drainsAWorkerAndANode() {
        String node = unique("drain-node");
        RegistrationAccepted a = register(registration(node, "http://" + node + ":9100"));
        RegistrationAccepted b = register(registration(node, "http://" + node + ":9101"));
        adminPost("/api/v1/workers/{id}/drain", null, a.workerId()).expectStatus().isOk()
                .expectBody().jsonPath("$.state").isEqualTo("DRAINED");
        // a drained worker stays drained whatever its heartbeats say
        heartbeat(a.workerId(), "READY").expectStatus().isNoContent();
        adminGet("/api/v1/workers?state=DRAINED").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[?(@.id == '" + a.workerId() + "')]").exists()
                .jsonPath("$[?(@.id == '" + b.workerId() + "')]").doesNotExist();
        adminGet("/api/v1/workers?state=IDLE").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[?(@.id == '" + b.workerId() + "')]").exists()
                .jsonPath("$[?(@.state != 'IDLE')]").doesNotExist();
        adminPost("/api/v1/nodes/{id}/drain", null, a.nodeId()).expectStatus().isOk()
                .expectBody().jsonPath("$.node.health").isEqualTo("DRAINING")
                .jsonPath("$.workers[?(@.state != 'DRAINED')]").doesNotExist();
    }

    @Test
    void unknownStateFilterIs400ListingTheStates() {
        adminGet("/api/v1/workers?state=SLEEPING").exchange().expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").isEqualTo("query parameter 'state': 'SLEEPING' is not one of "
                        + "IDLE, LOADING, READY, RUNNING, FAILED, LOST, DRAINED");
    }
}
