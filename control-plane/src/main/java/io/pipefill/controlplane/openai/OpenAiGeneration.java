package io.pipefill.controlplane.openai;

import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.ModelsRoot;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.common.Blocking;
import io.pipefill.controlplane.common.NotFoundException;
import io.pipefill.controlplane.deployment.Deployment;
import io.pipefill.controlplane.deployment.DeploymentService;
import io.pipefill.controlplane.metrics.ServingMetrics;
import io.pipefill.controlplane.run.Run;
import io.pipefill.controlplane.run.RunEvent;
import io.pipefill.controlplane.run.RunOptions;
import io.pipefill.controlplane.run.RunService;
import io.pipefill.controlplane.run.RunState;
import io.pipefill.controlplane.run.SubmitRunRequest;
import io.pipefill.model.ModelDirectory;
import io.pipefill.tokenizer.PromptTokenizer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import reactor.core.publisher.Flux;

/**
 * An OpenAI request as a pipefill run, through the run path every run takes ({@link RunService#submit}: recorded,
 * queued per deployment, bounded by the submission bulkhead): the prompt rendered (chat template) and submitted with
 * its sampling settings, then the run's events, read from the database as they are recorded, turned into text as
 * the last stage reports each token. A client that goes away cancels its run.
 */
@Service
class OpenAiGeneration {
    private static final Logger log = LoggerFactory.getLogger(OpenAiGeneration.class);
    /** How often a generation's new events are read; a token waits at most this long at the control plane. */
    static final Duration POLL = Duration.ofMillis(50);
    /** OpenAI's default for /v1/completions. */
    static final int COMPLETION_DEFAULT_MAX_TOKENS = 16;
    /** The run API's bound on generated tokens. */
    static final int MAX_TOKENS = 4096;

    private final RunService runs;
    private final DeploymentService deployments;
    private final ModelRepository models;
    private final ModelsRoot modelsRoot;
    private final ServingMetrics metrics;
    private final int chatDefaultMaxTokens;
    private final Duration keepAlive;

    OpenAiGeneration(RunService runs, DeploymentService deployments, ModelRepository models, ModelsRoot modelsRoot,
                     ServingMetrics metrics, @Value("${pipefill.openai.chat-default-max-tokens:256}") int chatDefaultMaxTokens,
                     @Value("${pipefill.openai.keep-alive:10s}") Duration keepAlive) {
        this.runs = runs;
        this.deployments = deployments;
        this.models = models;
        this.modelsRoot = modelsRoot;
        this.metrics = metrics;
        this.chatDefaultMaxTokens = chatDefaultMaxTokens;
        this.keepAlive = keepAlive;
    }

    /** A submitted generation: its run, its deployment's name and what turns its tokens into text. */
    record Started(Run run, String model, ServedModel served, GenerationRequest request, long arrivalNanos) {
    }

    /** Renders and submits; blocking (database, tokenizer): call through {@code Blocking}. */
    Started start(GenerationRequest r, boolean chat, long arrivalNanos) {
        Deployment d;
        try {
            d = deployments.get(r.model());
        } catch (NotFoundException e) {
            throw new OpenAiException(HttpStatus.NOT_FOUND, "invalid_request_error", "model", "model_not_found",
                    "the model '" + r.model() + "' does not exist: it must be a deployment's name (GET /v1/models lists"
                            + " the READY ones)");
        }
        RegisteredModel m = models.byId(d.modelId()).orElseThrow(() -> new NotFoundException("model", d.modelId()));
        ModelDirectory md = modelsRoot.open(m.location());
        Path tokenizer = modelsRoot.tokenizerJson(md).orElseThrow(() -> OpenAiException.invalid("model", "model '"
                + d.name() + "' (" + md.path() + ") has no tokenizer.json: the OpenAI routes need it to turn text into"
                + " tokens and back; use the run API (/api/v1/runs) with tokenIds instead"));
        ServedModel served = ServedModel.read(md, tokenizer);
        int maxTokens = r.maxTokens() != null ? r.maxTokens() : chat ? chatDefaultMaxTokens : COMPLETION_DEFAULT_MAX_TOKENS;
        if (maxTokens > MAX_TOKENS) {
            throw OpenAiException.invalid(chat ? "max_completion_tokens" : "max_tokens", "at most " + MAX_TOKENS
                    + " tokens are generated per request, " + maxTokens + " asked");
        }
        SubmitRunRequest submit;
        RunOptions options;
        if (chat) {
            ChatTemplate template = served.chatTemplate().orElseThrow(() -> new OpenAiException(HttpStatus.BAD_REQUEST,
                    "invalid_request_error", "messages", "chat_template_missing", "model '" + d.name() + "' has no"
                    + " chat_template in " + md.path().resolve("tokenizer_config.json") + ": chat completions need one;"
                    + " use /v1/completions with the prompt written out instead"));
            String text;
            try {
                text = template.render(r.messages());
            } catch (ChatTemplate.TemplateException e) {
                throw OpenAiException.invalid("messages", e.getMessage());
            }
            // the template wrote the special tokens (a BOS) itself, as transformers' apply_chat_template expects
            submit = new SubmitRunRequest(d.name(), text, null, null, null, maxTokens);
            options = new RunOptions(r.sampling(), false);
        } else if (r.prompt() instanceof String text) {
            submit = new SubmitRunRequest(d.name(), text, null, null, null, maxTokens);
            options = new RunOptions(r.sampling(), true);
        } else {
            @SuppressWarnings("unchecked")
            List<Integer> ids = (List<Integer>) r.prompt();
            submit = new SubmitRunRequest(d.name(), null, ids, null, null, maxTokens);
            options = new RunOptions(r.sampling(), true);
        }
        Run run = runs.submit(submit, options);
        log.info("OpenAI {} request on {}: run {}, {} prompt tokens, max_tokens {}, {}", chat ? "chat" : "completion",
                d.name(), run.id(), run.promptTokens(), maxTokens, r.sampling().greedy() ? "greedy" : r.sampling());
        return new Started(run, d.name(), served, r, arrivalNanos);
    }

    /**
     * The generation as it happens, ending with {@link GenerationStep.End} or {@link GenerationStep.Failed}. Cancelling
     * the subscription (the client went away) before the end cancels the run.
     */
    Flux<GenerationStep> steps(Started s) {
        Follower f = new Follower(s);
        return Flux.interval(Duration.ZERO, POLL)
                .onBackpressureDrop()
                .concatMap(tick -> Blocking.call(f::poll))
                .concatMapIterable(steps -> steps)
                .takeUntil(step -> step instanceof GenerationStep.End || step instanceof GenerationStep.Failed)
                .doOnCancel(f::abandoned)
                .doFinally(signal -> f.close());
    }

    /** Reads one generation's new events and keeps its text; used by one poll at a time. */
    private final class Follower {
        private final Started s;
        private final AtomicBoolean ended = new AtomicBoolean();
        private PromptTokenizer tokenizer;
        private TextAssembler text;
        private long after;
        private int tokens;
        private long firstTokenNanos;
        private long lastTokenNanos;
        private long lastSentNanos = System.nanoTime();

        Follower(Started s) {
            this.s = s;
        }

        synchronized List<GenerationStep> poll() {
            if (ended.get()) {
                return List.of();
            }
            if (tokenizer == null) {
                tokenizer = PromptTokenizer.open(s.served().tokenizerJson());
                text = new TextAssembler(tokenizer::decode, s.request().stops(), s.served().eosTokenIds());
            }
            List<GenerationStep> out = new ArrayList<>();
            for (RunEvent e : runs.events(s.run().id(), after)) {
                after = e.id();
                switch (e.kind()) {
                    case "TOKEN" -> {
                        if (number(e.detail(), "index") == tokens) {
                            token(number(e.detail(), "token"), out);
                        }
                    }
                    case "PROGRESS" -> out.add(new GenerationStep.Waiting("prefill chunk " + (number(e.detail(), "chunk") + 1)
                            + "/" + number(e.detail(), "chunks") + ", " + number(e.detail(), "done") + "/"
                            + number(e.detail(), "total") + " prompt tokens"));
                    case "STATE" -> ended(String.valueOf(e.detail().get("state")), out);
                    default -> {
                    }
                }
                if (ended.get()) {
                    return out;
                }
            }
            long now = System.nanoTime();
            if (!out.isEmpty()) {
                lastSentNanos = now;
            } else if (now - lastSentNanos >= keepAlive.toNanos()) {
                lastSentNanos = now;
                out.add(new GenerationStep.Waiting("run " + s.run().id() + " is still on its way"));
            }
            return out;
        }

        private void token(int token, List<GenerationStep> out) {
            long now = System.nanoTime();
            if (tokens++ == 0) {
                firstTokenNanos = now;
                metrics.firstToken(s.model(), Duration.ofNanos(now - s.arrivalNanos()));
            }
            lastTokenNanos = now;
            String delta = text.add(token);
            if (!delta.isEmpty()) {
                out.add(new GenerationStep.Text(delta));
            }
            if (text.stopped()) {
                // the client has its answer; the run itself goes on to max_tokens and is recorded as it ends
                end("stop", out);
            }
        }

        private void ended(String state, List<GenerationStep> out) {
            if (RunState.SUCCEEDED.name().equals(state)) {
                // the record's tokens are the authority: any token report that did not arrive is taken from it
                List<Integer> generated = runs.get(s.run().id()).generated();
                while (generated != null && tokens < generated.size() && !text.stopped()) {
                    token(generated.get(tokens), out);
                }
                if (!ended.get()) {
                    String tail = text.finish();
                    if (!tail.isEmpty()) {
                        out.add(new GenerationStep.Text(tail));
                    }
                    end(text.stopped() ? "stop" : "length", out);
                }
            } else if (RunState.FAILED.name().equals(state) || RunState.CANCELLED.name().equals(state)) {
                Run r = runs.get(s.run().id());
                ended.set(true);
                out.add(new GenerationStep.Failed("run " + r.id() + " " + r.state()
                        + (r.error() == null ? "" : ": " + r.error())));
            }
        }

        private void end(String reason, List<GenerationStep> out) {
            if (ended.compareAndSet(false, true)) {
                out.add(new GenerationStep.End(reason, s.run().promptTokens(), text.completionTokens()));
                metrics.finished(s.model(), reason, s.run().promptTokens(), text.completionTokens(),
                        Duration.ofNanos(System.nanoTime() - s.arrivalNanos()),
                        tokens >= 2 ? Duration.ofNanos(lastTokenNanos - firstTokenNanos) : null);
            }
        }

        /** The client went away before the end: its run is cancelled (through the run API's cancel path). */
        void abandoned() {
            if (ended.compareAndSet(false, true)) {
                metrics.finished(s.model(), "abort", s.run().promptTokens(), tokens,
                        Duration.ofNanos(System.nanoTime() - s.arrivalNanos()), null);
                Blocking.run(() -> {
                    try {
                        Run r = runs.cancel(s.run().id(), Duration.ZERO);
                        log.info("run {}: the OpenAI client went away; the run is {}", r.id(), r.state());
                    } catch (RuntimeException e) {
                        log.info("run {}: the OpenAI client went away; not cancelled: {}", s.run().id(), e.getMessage());
                    }
                }).subscribe();
            }
        }

        synchronized void close() {
            if (tokenizer != null) {
                tokenizer.close();
                tokenizer = null;
            }
        }
    }

    private static int number(Map<String, Object> detail, String key) {
        Object v = detail.get(key);
        return v instanceof Number n ? n.intValue() : -1;
    }
}
