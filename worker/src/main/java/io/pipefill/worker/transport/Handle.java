package io.pipefill.worker.transport;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** An asynchronous send or receive; {@link #await()} waits at most the transport's timeout. */
public final class Handle {
    private final CompletableFuture<Long> done = new CompletableFuture<>();
    private final String what;
    private final Duration timeout;

    public Handle(String what, Duration timeout) {
        this.what = what;
        this.timeout = timeout;
    }

    public static Handle completed(String what) {
        Handle h = new Handle(what, Duration.ZERO);
        h.complete();
        return h;
    }

    public void complete() {
        done.complete(System.nanoTime());
    }

    public void fail(TransportException e) {
        done.completeExceptionally(e);
    }

    public boolean isDone() {
        return done.isDone();
    }

    /** Waits for completion; throws the transport's failure, or a timeout naming the operation. */
    public void await() {
        try {
            done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new TransportException(what + " did not complete within " + timeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TransportException te) {
                throw new TransportException(te.getMessage(), te);
            }
            throw new TransportException(what + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException(what + " interrupted");
        }
    }

    /** System.nanoTime() at completion; only valid once done. */
    public long completedAtNanos() {
        return done.join();
    }
}
