package io.pipefill.controlplane;

import java.nio.file.Path;
import java.nio.file.Files;
import java.io.IOException;
import io.pipefill.model.create.ModelGenerator;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.Architecture;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.ModelRegistrar;
import io.pipefill.controlplane.cluster.WorkersLost;
import io.pipefill.model.agent.GpuInventory;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.WorkerRegistration;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.context.annotation.Import;
import org.springframework.context.event.EventListener;
import org.springframework.http.MediaType;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The one Spring context the API tests share (so the context cache starts one embedded PostgreSQL): a real
 * server on a random port, the test profile's fixed tokens, and a recorder of {@link WorkersLost} events. Every
 * test class extends this without adding configuration; tests use unique names since the database is shared.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ActiveProfiles("test")
@AutoConfigureWebTestClient
@Import(ApiTestSupport.LostEvents.class)
public abstract class ApiTestSupport {
    public static final String ADMIN = "test-admin-token";
    public static final String JOIN = "test-join-token";
    /** What every test worker hands over as its agent token (the token its agent would accept). */
    public static final String AGENT_TOKEN = "agent-token-of-a-test-worker-0123456789";
    /** The credential each test worker got at registration, by worker id. */
    private static final Map<String, String> CREDENTIALS = new java.util.concurrent.ConcurrentHashMap<>();

    @Autowired
    private WebTestClient client;
    @Autowired
    protected LostEvents lostEvents;
    @Autowired
    private ModelRegistrar modelRegistrar;
    @Autowired
    private ModelRepository modelRepository;

    protected WebTestClient web;

    @BeforeEach
    void longerTimeout() {
        // the planner and the first registration (JIT, pool warm-up) can take longer than the 5 s default
        web = client.mutate().responseTimeout(Duration.ofSeconds(30)).build();
    }

    /** A generated tiny Llama registered as {@code name}, once for the whole shared database. */
    protected RegisteredModel tinyModel(String name) throws IOException {
        RegisteredModel m = modelRepository.byName(name).orElse(null);
        if (m == null) {
            Path dir = Files.createTempDirectory("pipefill-" + name + "-").resolve("tiny");
            new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 2).write(dir);
            m = modelRegistrar.register(name, dir.toString());
        }
        return m;
    }

    protected static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    protected static WorkerRegistration registration(String node, String agentUrl, GpuInventory... gpus) {
        return new WorkerRegistration(node, "10.1.2.3", 8, 1L << 34, List.of(gpus), Map.of("zone", "test"), "cpu",
                agentUrl, null);
    }

    /** Registers as a worker does (join token, agent token header) and keeps the credential it is issued. */
    protected RegistrationAccepted register(WorkerRegistration r) {
        return register(r, AGENT_TOKEN);
    }

    protected RegistrationAccepted register(WorkerRegistration r, String agentToken) {
        var result = web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN))
                .header("Pipefill-Agent-Token", agentToken)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(r)
                .exchange().expectStatus().isCreated()
                .expectBody(RegistrationAccepted.class).returnResult();
        RegistrationAccepted a = result.getResponseBody();
        CREDENTIALS.put(a.workerId(), result.getResponseHeaders().getFirst("Pipefill-Worker-Credential"));
        return a;
    }

    /** The credential the worker got at registration (null for one never registered through the route). */
    protected static String credential(String workerId) {
        return CREDENTIALS.get(workerId);
    }

    /** A heartbeat as the worker sends it: with its own credential. */
    protected WebTestClient.ResponseSpec heartbeat(String workerId, String state) {
        return heartbeat(workerId, Map.of("state", state), credential(workerId));
    }

    protected WebTestClient.ResponseSpec heartbeat(String workerId, Object body, String bearer) {
        return web.post().uri("/api/v1/agent/workers/{id}/heartbeat", workerId).headers(h -> h.setBearerAuth(bearer))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    protected WebTestClient.RequestHeadersSpec<?> adminGet(String uri, Object... vars) {
        return web.get().uri(uri, vars).headers(h -> h.setBearerAuth(ADMIN));
    }

    protected WebTestClient.ResponseSpec adminPost(String uri, Object body, Object... vars) {
        var spec = web.post().uri(uri, vars).headers(h -> h.setBearerAuth(ADMIN));
        return body == null ? spec.exchange() : spec.contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    /** Every {@link WorkersLost} the context publishes (from the sweep's scheduler thread, hence not ApplicationEvents). */
    public static class LostEvents {
        public final List<WorkersLost> seen = new CopyOnWriteArrayList<>();

        @EventListener
        void on(WorkersLost e) {
            seen.add(e);
        }

        public boolean sawWorker(String id) {
            return seen.stream().flatMap(e -> e.workers().stream()).anyMatch(w -> w.id().toString().equals(id));
        }
    }
}
