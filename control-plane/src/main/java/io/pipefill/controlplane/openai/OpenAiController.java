package io.pipefill.controlplane.openai;

import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentService;
import io.pipefill.controlplane.deployment.DeploymentState;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The OpenAI-compatible serving API on the control plane's port: {@code GET /v1/models} (the READY deployments),
 * {@code POST /v1/completions} and {@code POST /v1/chat/completions}, answered whole or streamed as server-sent
 * events in OpenAI's chunk shape ending with {@code data: [DONE]}. Every request is a run (see
 * {@link OpenAiGeneration}); the answer's id carries the run's id ({@code cmpl-<run id>}, {@code chatcmpl-<run id>}).
 */
@RestController
@RequestMapping("/v1")
public class OpenAiController {
    private final OpenAiGeneration generation;
    private final DeploymentService deployments;
    private final JsonMapper json;

    OpenAiController(OpenAiGeneration generation, DeploymentService deployments, JsonMapper json) {
        this.generation = generation;
        this.deployments = deployments;
        this.json = json;
    }

    @GetMapping("/models")
    public Mono<Map<String, Object>> models() {
        return Blocking.call(() -> {
            List<Map<String, Object>> data = new ArrayList<>();
            for (Deployment d : deployments.list(false)) {
                if (d.state() == DeploymentState.READY) {
                    data.add(model(d));
                }
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("object", "list");
            body.put("data", data);
            return body;
        });
    }

    @GetMapping("/models/{model}")
    public Mono<Map<String, Object>> model(@PathVariable String model) {
        return Blocking.call(() -> deployments.list(false).stream()
                .filter(d -> d.state() == DeploymentState.READY && d.name().equals(model)).findFirst().map(OpenAiController::model)
                .orElseThrow(() -> new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", "model",
                        "model_not_found", "the model '" + model + "' does not exist or is not READY")));
    }

    private static Map<String, Object> model(Deployment d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", d.name());
        m.put("object", "model");
        m.put("created", d.createdAt().getEpochSecond());
        m.put("owned_by", "pipefill");
        m.put("max_model_len", d.maxTokens());
        return m;
    }

    @PostMapping(path = "/completions", produces = {MediaType.APPLICATION_JSON_VALUE, MediaType.TEXT_EVENT_STREAM_VALUE})
    public Mono<Void> completions(@RequestBody JsonNode body, ServerWebExchange exchange) {
        long arrival = System.nanoTime();
        return Mono.fromCallable(() -> GenerationRequest.completion(body)).flatMap(r -> answer(r, false, arrival, exchange));
    }

    @PostMapping(path = "/chat/completions", produces = {MediaType.APPLICATION_JSON_VALUE, MediaType.TEXT_EVENT_STREAM_VALUE})
    public Mono<Void> chatCompletions(@RequestBody JsonNode body, ServerWebExchange exchange) {
        long arrival = System.nanoTime();
        return Mono.fromCallable(() -> GenerationRequest.chat(body)).flatMap(r -> answer(r, true, arrival, exchange));
    }

    /**
     * Written straight to the response: the stream's frames exactly as OpenAI writes them ({@code data: {...}}, a
     * comment line, {@code data: [DONE]}), each flushed as it comes. Anything thrown before the first byte is an error
     * answer in OpenAI's shape ({@link OpenAiExceptionHandler}).
     */
    private Mono<Void> answer(GenerationRequest r, boolean chat, long arrival, ServerWebExchange exchange) {
        ServerHttpResponse response = exchange.getResponse();
        return Blocking.call(() -> generation.start(r, chat, arrival)).flatMap(s -> {
            OpenAiChunks shape = new OpenAiChunks(s, chat);
            if (r.stream()) {
                // a first comment at once: the client gets the headers (and the run's id) even while the run is queued
                Flux<String> frames = Flux.just(OpenAiChunks.comment("run " + s.run().id() + " " + s.run().state()))
                        .concatWith(generation.steps(s).concatMapIterable(step -> shape.events(step, json)))
                        .concatWith(Mono.fromSupplier(() -> shape.ended() ? OpenAiChunks.DONE
                                : OpenAiChunks.comment("ended without an answer")));
                response.getHeaders().setContentType(MediaType.TEXT_EVENT_STREAM);
                response.getHeaders().setCacheControl("no-cache");
                return response.writeAndFlushWith(frames.map(f -> Mono.just(buffer(response, f))));
            }
            return generation.steps(s).collectList().flatMap(steps -> {
                for (GenerationStep step : steps) {
                    if (step instanceof GenerationStep.Failed f) {
                        return Mono.error(new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", null,
                                "run_failed", f.message()));
                    }
                }
                response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
                return response.writeWith(Mono.just(buffer(response, json.writeValueAsString(shape.whole(steps)))));
            });
        });
    }

    private static DataBuffer buffer(ServerHttpResponse response, String text) {
        return response.bufferFactory().wrap(text.getBytes(StandardCharsets.UTF_8));
    }
}
