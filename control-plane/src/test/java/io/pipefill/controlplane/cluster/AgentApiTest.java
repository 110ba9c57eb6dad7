package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.WorkerRegistration;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;

class AgentApiTest extends ApiTestSupport {
    @Autowired
    ClusterRepository cluster;

    @Test
    void registersAndBeats() {
        String node = unique("agent-node");
        RegistrationAccepted a = web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(registration(node, "http://" + node + ":9100"))
                .exchange().expectStatus().isCreated()
                .expectHeader().value("Location", l -> assertThat(l).startsWith("/api/v1/workers/"))
                .expectBody(RegistrationAccepted.class).returnResult().getResponseBody();
        assertThat(a.heartbeatIntervalMs()).isEqualTo(200);
        heartbeat(a.workerId(), "READY").expectStatus().isNoContent();
        Worker w = cluster.worker(UUID.fromString(a.workerId())).orElseThrow();
        assertThat(w.state()).isEqualTo(WorkerState.READY);
        assertThat(w.nodeId().toString()).isEqualTo(a.nodeId());
    }

    @Test
    void registrationFieldsAreChecked() {
        WorkerRegistration bad = new WorkerRegistration(" ", "", -1, 0, List.of(new GpuInventory("H100", 80L << 30, 0)),
                Map.of(), "tpu", "ftp://x:1", null);
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(bad).exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody()
                .jsonPath("$.errors[?(@.field == 'nodeName')].message").isEqualTo("must not be blank")
                .jsonPath("$.errors[?(@.field == 'host')].message").isEqualTo("must not be blank")
                .jsonPath("$.errors[?(@.field == 'cpuCores')]").exists()
                .jsonPath("$.errors[?(@.field == 'gpus[0].count')]").exists()
                .jsonPath("$.errors[?(@.field == 'backend')].message").isEqualTo("must be one of cpu, cuda (got 'tpu')")
                .jsonPath("$.errors[?(@.field == 'agentUrl')]").exists()
                .jsonPath("$.detail").value(d -> assertThat((String) d).contains("agentUrl: must be an absolute http://"));
        WorkerRegistration noUrl = new WorkerRegistration("n", "h", 1, 0, List.of(), Map.of(), "cuda", null, null);
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(noUrl).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("agentUrl")
                .jsonPath("$.errors.length()").isEqualTo(1);
    }

    @Test
    void unreadableInputIs400NamingWhatWasWrong() {
        RegistrationAccepted a = register(registration(unique("n"), "http://" + unique("h") + ":1"));
        heartbeat(a.workerId(), "SLEEPING").expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains("field 'state'").contains("'SLEEPING'").contains("IDLE, LOADING, READY, RUNNING, FAILED"));
        web.post().uri("/api/v1/agent/workers/{id}/heartbeat", a.workerId()).headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("state");
        web.post().uri("/api/v1/agent/workers/{id}/heartbeat", a.workerId()).headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"state\": ").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("malformed JSON"));
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"nodeName\": \"n\", \"cpuCores\": \"many\"}").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("field 'cpuCores'").contains("integer"));
        heartbeat("not-a-uuid", "READY").expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").isEqualTo("path variable 'id': 'not-a-uuid' is not a UUID");
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .contentType(MediaType.APPLICATION_JSON).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("JSON body"));
    }

    @Test
    void heartbeatFromUnknownWorkerIs404() {
        heartbeat(UUID.randomUUID().toString(), "IDLE").expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("register again"));
    }

    @Test
    void silentWorkerIsLostWithAnEventAndMustRegisterAgain() {
        RegistrationAccepted a = register(registration(unique("lost-node"), "http://" + unique("lost") + ":9100"));
        heartbeat(a.workerId(), "IDLE").expectStatus().isNoContent();
        UUID id = UUID.fromString(a.workerId());
        // test profile: sweep every 200 ms, lost after 2 s of silence
        await().atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(100))
                .until(() -> lostEvents.sawWorker(a.workerId()));
        Worker w = cluster.worker(id).orElseThrow();
        assertThat(w.state()).isEqualTo(WorkerState.LOST);
        assertThat(Duration.between(w.lastHeartbeat(), java.time.Instant.now())).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        assertThat(cluster.node(w.nodeId()).orElseThrow().health()).isEqualTo(NodeHealth.LOST);
        heartbeat(a.workerId(), "IDLE").expectStatus().isNotFound();
        // each lost worker is announced once
        assertThat(lostEvents.seen.stream().flatMap(e -> e.workers().stream()).filter(x -> x.id().equals(id))).hasSize(1);
    }

    @Test
    void reRegistrationGetsANewIdAndLosesTheOldOne() {
        String node = unique("restart-node");
        String url = "http://" + node + ":9100";
        RegistrationAccepted first = register(registration(node, url));
        RegistrationAccepted second = register(registration(node, url));
        assertThat(second.workerId()).isNotEqualTo(first.workerId());
        assertThat(second.nodeId()).isEqualTo(first.nodeId());
        adminGet("/api/v1/workers/{id}", first.workerId()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.state").isEqualTo("LOST");
        adminGet("/api/v1/workers/{id}", second.workerId()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.state").isEqualTo("IDLE");
        heartbeat(first.workerId(), "IDLE").expectStatus().isNotFound();
        heartbeat(second.workerId(), "IDLE").expectStatus().isNoContent();
        // the predecessor's shard is gone with its process: announced like any lost worker, so its deployments degrade
        assertThat(lostEvents.sawWorker(first.workerId())).isTrue();
    }
}
