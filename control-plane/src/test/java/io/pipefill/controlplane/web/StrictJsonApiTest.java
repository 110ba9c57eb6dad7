package io.pipefill.controlplane.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.controlplane.ApiTestSupport;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.agent.RunReport;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RequestResult;
import io.pipefill.model.pipeline.StageEvent;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Request bodies are strict JSON (finding 13): an unknown field and a scalar of the wrong JSON type are 400s naming
 * the field, where they used to be dropped or coerced ({@code 1.5} taken as 1). The worker's bodies, written by its
 * Jackson 2 from the shared records, still pass.
 */
class StrictJsonApiTest extends ApiTestSupport {

    private WebTestClient.ResponseSpec post(String uri, String token, String json) {
        return web.post().uri(uri).headers(h -> h.setBearerAuth(token)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(json).exchange();
    }

    private void expect400(String uri, String token, String json, String... detailParts) {
        post(uri, token, json).expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(d -> assertThat((String) d).contains(detailParts));
    }

    @Test
    void anUnknownFieldIs400NamingItAndTheAllowedOnes() {
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": \"nope\", \"randomTokens\": 8, \"maxNewToken\": 4}",
                "unknown field 'maxNewToken'", "maxNewTokens");
        expect400("/api/v1/plans", ADMIN, "{\"model\": \"llama-3.1-8b\", \"promptTokens\": 4096, \"chunks\": 8}",
                "unknown field 'chunks'", "chunk");
        expect400("/api/v1/models", ADMIN, "{\"name\": \"m\", \"location\": \"/x\", \"path\": \"/y\"}",
                "unknown field 'path'", "location");
        expect400("/api/v1/plans", ADMIN, "{\"model\": \"llama-3.1-8b\", \"promptTokens\": 4096, "
                + "\"cluster\": {\"gpu\": \"h100\", \"gpus\": 8}}", "unknown field 'cluster.gpus'", "gpusPerNode");
    }

    @Test
    void aFractionIsNotAnInteger() {
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": \"nope\", \"randomTokens\": 1.5}",
                "field 'randomTokens'", "expected an integer");
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": \"nope\", \"randomTokens\": 8, \"maxNewTokens\": 2.0}",
                "field 'maxNewTokens'", "expected an integer");
        expect400("/api/v1/plans", ADMIN, "{\"model\": \"llama-3.1-8b\", \"promptTokens\": 4096.5}",
                "field 'promptTokens'", "expected an integer");
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": \"nope\", \"tokenIds\": [1, 2.5]}",
                "field 'tokenIds[1]'", "expected an integer");
    }

    @Test
    void aScalarIsTakenOnlyInItsOwnJsonType() {
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": \"nope\", \"randomTokens\": \"8\"}",
                "field 'randomTokens'", "expected an integer");
        expect400("/api/v1/runs", ADMIN, "{\"deployment\": 7, \"randomTokens\": 8}", "field 'deployment'", "expected a string");
        expect400("/api/v1/plans", ADMIN, "{\"model\": \"llama-3.1-8b\", \"promptTokens\": 4096, \"timeline\": 1}",
                "field 'timeline'", "true or false");
        // an integer is a fine number where a fraction is allowed
        post("/api/v1/plans", ADMIN, "{\"model\": \"llama-3.1-8b\", \"promptTokens\": 4096, \"pp\": 1, \"tp\": 8, "
                + "\"cluster\": {\"gpu\": \"h100\", \"nodes\": 1, \"gpusPerNode\": 8, \"nicGbps\": 400}}").expectStatus().isOk();
    }

    @Test
    void theWorkersOwnBodiesStillPass() throws Exception {
        // the worker's agent writes with a plain Jackson 2 ObjectMapper (AgentJson); so does this
        ObjectMapper jackson2 = new ObjectMapper();
        String node = unique("strict-node");
        web.post().uri("/api/v1/agent/workers").headers(h -> h.setBearerAuth(JOIN)).header("Pipefill-Agent-Token", AGENT_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(jackson2.writeValueAsString(registration(node, "http://" + node + ":9100")))
                .exchange().expectStatus().isCreated();
        // reports carry a worker's own credential (the join token only admits a registration)
        String worker = credential(register(registration(unique("strict-w"), "http://" + unique("strict-w") + ":9100")).workerId());
        StageEvent e = new StageEvent(0, 1, 1, 0, false, 0, 0, 64, 1, 0, 1, 2, 3, 4);
        List<RunReport> every = List.of(
                new RunReport(UUID.randomUUID().toString(), 0, 0, new ChunkingDecision(true, 256, 0.75,
                        new LatencyFit(1, 2, 3), null, new double[] {256}, new double[] {1}, 5)),
                new RunReport("w", 1, 1, new RankReport.Loaded(1, 10, 20)),
                new RunReport("w", 1, 2, new RankReport.Progress(0, 0, 2, 64, 128)),
                new RunReport("w", 1, 3, new RequestResult(0, new float[] {0.5f}, new int[] {3}, 1.5, 2.5)),
                new RunReport("w", 1, 4, new RankReport.RankTimeline(1, List.of(e))),
                new RunReport("w", 1, 5, new RankReport.Done(1)),
                new RunReport("w", 1, 6, new RankReport.Failed(1, "boom")));
        // parsed, then refused only because no such run exists
        post("/api/v1/agent/runs/" + UUID.randomUUID() + "/reports/batch", worker, jackson2.writeValueAsString(every))
                .expectStatus().isNotFound();
        post("/api/v1/agent/runs/" + UUID.randomUUID() + "/reports", worker, jackson2.writeValueAsString(every.get(3)))
                .expectStatus().isNotFound();
    }
}
