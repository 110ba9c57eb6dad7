package io.pipefill.controlplane.run;

import io.pipefill.controlplane.common.Blocking;
import jakarta.validation.Valid;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Runs: submit, cancel, poll, list with filters, the last position's logits, and a server-sent-events stream. */
@RestController
@RequestMapping("/api/v1/runs")
public class RunController {
    private static final Duration POLL = Duration.ofMillis(200);
    /** How long a cancellation waits for a running run's ranks to stop before it answers 202. */
    static final Duration CANCEL_WAIT = Duration.ofSeconds(10);

    private final RunService service;

    public RunController(RunService service) {
        this.service = service;
    }

    @PostMapping
    public Mono<ResponseEntity<Run>> submit(@Valid @RequestBody SubmitRunRequest request) {
        return Blocking.call(() -> service.submit(request))
                .map(r -> ResponseEntity.created(URI.create("/api/v1/runs/" + r.id())).body(r));
    }

    /**
     * Cancels a QUEUED or RUNNING run: 200 with the run once it is CANCELLED (or had ended meanwhile), 202 with
     * it still RUNNING when its ranks take longer than {@link #CANCEL_WAIT} to stop; 409 for a run that had
     * already SUCCEEDED or FAILED. Cancelling a cancelled run again answers 200.
     */
    @PostMapping("/{id}/cancel")
    public Mono<ResponseEntity<Run>> cancel(@PathVariable UUID id) {
        return Blocking.call(() -> service.cancel(id, CANCEL_WAIT))
                .map(r -> r.state().finished() ? ResponseEntity.ok(r) : ResponseEntity.accepted().body(r));
    }

    @GetMapping("/{id}")
    public Mono<Run> get(@PathVariable UUID id) {
        return Blocking.call(() -> service.get(id));
    }

    @GetMapping
    public Mono<List<Run>> list(@RequestParam(required = false) String deployment,
                                @RequestParam(required = false) RunState state,
                                @RequestParam(defaultValue = "50") int limit) {
        if (limit < 1 || limit > 1000) {
            return Mono.error(new IllegalArgumentException("limit: " + limit + " is out of range (1..1000)"));
        }
        return Blocking.call(() -> service.list(deployment, state, limit));
    }

    @GetMapping("/{id}/logits")
    public Mono<float[]> logits(@PathVariable UUID id) {
        return Blocking.call(() -> service.logits(id));
    }

    /**
     * The run's events as they happen (state changes, each prompt chunk through the last stage, each rank's
     * reports), from the first; the stream ends after the run's final state. Read from the database, so
     * a client that reconnects with Last-Event-ID resumes where it left off, on any control-plane replica.
     */
    @GetMapping(path = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<RunEvent>> events(@PathVariable UUID id,
                                                  @org.springframework.web.bind.annotation.RequestHeader(
                                                          name = "Last-Event-ID", required = false) Long lastEventId) {
        AtomicLong after = new AtomicLong(lastEventId == null ? 0 : lastEventId);
        return Blocking.call(() -> service.get(id)).thenMany(
                Flux.interval(Duration.ZERO, POLL)
                        // a poll slower than the interval (a loaded machine) skips ticks rather than failing the
                        // stream with "Could not emit tick": each poll reads every event after the last one anyway
                        .onBackpressureDrop()
                        .concatMap(tick -> Blocking.call(() -> service.events(id, after.get())))
                        .concatMapIterable(list -> list)
                        .doOnNext(e -> after.set(e.id()))
                        .takeUntil(RunController::isFinal)
                        .map(e -> ServerSentEvent.builder(e).id(String.valueOf(e.id())).event(e.kind()).build()));
    }

    private static boolean isFinal(RunEvent e) {
        if (!"STATE".equals(e.kind())) {
            return false;
        }
        Object s = e.detail().get("state");
        return Arrays.stream(RunState.values()).anyMatch(state -> state.finished() && state.name().equals(s));
    }
}
