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
        var result = web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(registration(node, "http://" + node + ":9100"))
                .exchange().expectStatus().isCreated()
                .expectHeader().value("Location", l -> assertThat(l).startsWith("/api/v1/workers/"))
                .expectHeader().value("Cache-Control", v -> assertThat(v).contains("no-store"))
                .expectBody(RegistrationAccepted.class).returnResult();
        RegistrationAccepted a = result.getResponseBody();
        String credential = result.getResponseHeaders().getFirst("Pipefill-Worker-Credential");
        assertThat(credential).as("the worker's own credential").startsWith("pfw_").hasSizeGreaterThan(40);
        heartbeat(a.workerId(), Map.of("state", "IDLE"), credential).expectStatus().isNoContent();
        assertThat(a.heartbeatIntervalMs()).isEqualTo(200);
        heartbeat(a.workerId(), Map.of("state", "READY"), credential).expectStatus().isNoContent();
        Worker w = cluster.worker(UUID.fromString(a.workerId())).orElseThrow();
        assertThat(w.state()).isEqualTo(WorkerState.READY);
        assertThat(w.nodeId().toString()).isEqualTo(a.nodeId());
    }

    @Test
    void registrationFieldsAreChecked() {
        WorkerRegistration bad = new WorkerRegistration(" ", "", -1, 0, List.of(new GpuInventory("H100", 80L << 30, 0)),
                Map.of(), "tpu", "ftp://x:1", null);
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
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
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
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
        heartbeat(a.workerId(), "{}", credential(a.workerId()))
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("state");
        heartbeat(a.workerId(), "{\"state\": ", credential(a.workerId()))
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("malformed JSON"));
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"nodeName\": \"n\", \"cpuCores\": \"many\"}").exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("field 'cpuCores'").contains("integer"));
        heartbeat("not-a-uuid", Map.of("state", "READY"), credential(a.workerId())).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").isEqualTo("path variable 'id': 'not-a-uuid' is not a UUID");
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("JSON body"));
    }

    @Test
    void heartbeatsTakeTheWorkersOwnCredentialNotTheJoinTokenNorAnotherWorkers() {
        RegistrationAccepted a = register(registration(unique("hb-a"), "http://" + unique("hb-a") + ":9100"));
        RegistrationAccepted b = register(registration(unique("hb-b"), "http://" + unique("hb-b") + ":9100"));
        assertThat(credential(a.workerId())).startsWith("pfw_").isNotEqualTo(credential(b.workerId()));
        heartbeat(a.workerId(), Map.of("state", "IDLE"), JOIN).expectStatus().isForbidden()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains("worker's own credential").contains("join token only admits a registration"));
        heartbeat(a.workerId(), Map.of("state", "IDLE"), credential(b.workerId())).expectStatus().isForbidden()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                        .contains(b.workerId()).contains("not " + a.workerId()));
        // a credential the control plane never issued (or forgot with its database): 401, and the worker registers again
        heartbeat(a.workerId(), Map.of("state", "IDLE"), "pfw_" + "x".repeat(43)).expectStatus().isUnauthorized();
        heartbeat(UUID.randomUUID().toString(), Map.of("state", "IDLE"), ADMIN).expectStatus().isForbidden();
        heartbeat(a.workerId(), "IDLE").expectStatus().isNoContent();
        // a worker credential is not a join token either: it registers nothing
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(credential(a.workerId())))
                .header("Pipefill-Agent-Token", AGENT_TOKEN).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(registration(unique("n"), "http://" + unique("h") + ":1")).exchange().expectStatus().isForbidden();
        // and a registration must hand over the agent token the control plane will present to the agent
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(registration(unique("n"), "http://" + unique("h") + ":1")).exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains("Pipefill-Agent-Token: missing"));
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

    private void expectAgentUrlRefused(String url, String... parts) {
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(registration(unique("ssrf"), url)).exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("agentUrl")
                .jsonPath("$.errors[0].message").value(m -> assertThat((String) m).as(url).contains(parts));
    }

    /** Routes are appended to the agent URL and the control plane calls it: only scheme, host and port, never metadata. */
    @Test
    void agentUrlIsSchemeHostAndPortOnlyAndNeverLinkLocalOrMetadata() {
        expectAgentUrlRefused("http://10.0.0.7:19999/internal/admin?x=", "nothing after the port");
        expectAgentUrlRefused("http://10.0.0.7:19999?x=1", "nothing after the port");
        expectAgentUrlRefused("http://10.0.0.7:19999/", "nothing after the port");
        expectAgentUrlRefused("http://10.0.0.7:19999#frag", "nothing after the port");
        expectAgentUrlRefused("http://user:pw@10.0.0.7:19999", "no user info");
        expectAgentUrlRefused("http://10.0.0.7", "must name its port");
        expectAgentUrlRefused("gopher://10.0.0.7:70", "http:// or https://");
        expectAgentUrlRefused("http://169.254.169.254:80", "link-local");
        expectAgentUrlRefused("http://[fe80::1]:9100", "link-local");
        expectAgentUrlRefused("http://metadata.google.internal:80", "metadata");
        expectAgentUrlRefused("http://100.100.100.200:80", "metadata");
        expectAgentUrlRefused("http://0.0.0.0:9100", "unspecified");
        expectAgentUrlRefused("http://" + "a".repeat(400) + ":1", "at most 300 characters");
        // a private address, and a name that does not resolve yet (checked again before each call), are fine
        register(registration(unique("ok"), "http://10.0.0.7:" + (20000 + (int) (Math.random() * 10000))));
        register(registration(unique("ok"), "https://" + unique("pod") + ".workers.svc:9100"));
    }

    /** A 1 MB name was a 500; a fake 8 x H200 node with absurd memory was placed. Every field is bounded now. */
    @Test
    void registrationStringsCollectionsAndHardwareAreBounded() {
        String mb = "n".repeat(1 << 20);
        WorkerRegistration big = new WorkerRegistration(mb, "h", 8, 1L << 34, List.of(), Map.of(), "cpu",
                "http://" + unique("h") + ":1", "p".repeat(300));
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(big).exchange()
                .expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.errors[?(@.field == 'nodeName')].message").isEqualTo("must be at most 253 characters (got 1048576)")
                .jsonPath("$.errors[?(@.field == 'podName')]").exists()
                .jsonPath("$.detail").value(d -> assertThat(((String) d).length()).isLessThan(2000));
        Map<String, String> labels = new java.util.HashMap<>();
        for (int i = 0; i < 65; i++) {
            labels.put("k" + i, "v");
        }
        WorkerRegistration many = new WorkerRegistration(unique("n"), "h", 1_000_000, 1L << 60,
                List.of(new GpuInventory("NVIDIA H200", 141L << 40, 8), new GpuInventory("x".repeat(200), 80L << 30, 1000)),
                labels, "cuda", "http://" + unique("h") + ":1", null);
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(many).exchange()
                .expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.errors[?(@.field == 'cpuCores')]").exists()
                .jsonPath("$.errors[?(@.field == 'memoryBytes')]").exists()
                .jsonPath("$.errors[?(@.field == 'gpus[0].memoryBytes')].message").value(m -> assertThat(m.toString()).contains("1 TiB"))
                .jsonPath("$.errors[?(@.field == 'gpus[1].model')]").exists()
                .jsonPath("$.errors[?(@.field == 'gpus[1].count')].message").value(m -> assertThat(m.toString()).contains("1..64"))
                .jsonPath("$.errors[?(@.field == 'labels')].message").value(m -> assertThat(m.toString()).contains("at most 64 labels"));
        // a real 8 x H200 node is fine
        register(registration(unique("h200"), "http://" + unique("h200") + ":9100", new GpuInventory("NVIDIA H200", 141L << 30, 8)));
    }

    /**
     * A registration naming a live worker's agent URL used to take its slot (the old worker LOST, its deployment
     * DEGRADED for good). Now the holder is asked, with its own agent token, whether it still answers there.
     */
    @Test
    void aLiveWorkersAgentUrlIsNotTakenOverButARestartedOneIs() throws Exception {
        try (io.pipefill.controlplane.testing.FakeAgent agent = new io.pipefill.controlplane.testing.FakeAgent(AGENT_TOKEN)) {
            RegistrationAccepted holder = register(registration(unique("slot"), agent.url()), AGENT_TOKEN);
            String intruderToken = "the-intruders-agent-token-0123456789";
            web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", intruderToken)
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(registration(unique("intruder"), agent.url())).exchange()
                    .expectStatus().isEqualTo(409)
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d)
                            .contains("held by live worker " + holder.workerId()).contains("still answers there"));
            assertThat(agent.calls("/agent/status")).last().extracting(c -> c.authorization()).isEqualTo("Bearer " + AGENT_TOKEN);
            adminGet("/api/v1/workers/{id}", holder.workerId()).exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.state").isEqualTo("IDLE");
            heartbeat(holder.workerId(), "IDLE").expectStatus().isNoContent();
            assertThat(lostEvents.sawWorker(holder.workerId())).isFalse();

            // the holder itself may register again, proving it with its credential
            RegistrationAccepted again = web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                    .header("Pipefill-Agent-Token", AGENT_TOKEN).header("Pipefill-Worker-Credential", credential(holder.workerId()))
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(registration(unique("slot"), agent.url())).exchange()
                    .expectStatus().isCreated().expectBody(RegistrationAccepted.class).returnResult().getResponseBody();
            assertThat(lostEvents.sawWorker(holder.workerId())).isTrue();

            // the process restarts (a new agent token): the old worker no longer answers there, and the new one is admitted
            String restarted = "the-restarted-agents-token-0123456789";
            agent.restartWith(restarted);
            RegistrationAccepted successor = register(registration(unique("slot"), agent.url()), restarted);
            adminGet("/api/v1/workers/{id}", again.workerId()).exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.state").isEqualTo("LOST");
            assertThat(lostEvents.sawWorker(again.workerId())).isTrue();
            heartbeat(successor.workerId(), "IDLE").expectStatus().isNoContent();
        }
    }
}
