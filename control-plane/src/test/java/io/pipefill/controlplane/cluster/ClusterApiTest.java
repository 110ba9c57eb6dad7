package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.agent.RegistrationAccepted;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

class ClusterApiTest extends ApiTestSupport {

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
