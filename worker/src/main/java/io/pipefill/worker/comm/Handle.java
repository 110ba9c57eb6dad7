package io.pipefill.worker.comm;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * An asynchronous send or receive; {@link #await()} waits at most the transport's timeout. A handle is either
 * completed by someone else (a transport's reader thread, a mailbox) or, when it has a {@link Progress}, by the
 * awaiting thread polling it: device transfers complete on a GPU event that nothing would otherwise watch.
 */
public final class Handle {
    /** Drives a polled handle from the thread that awaits it. */
    public interface Progress {
        /** True once the operation is complete; throws a TransportException when it has failed. */
        boolean poll();

        /**
         * Called once when the wait runs out, before the timeout error is thrown: a communicator aborts itself
         * here so that a stuck peer cannot hang the device. May throw its own, more specific, error.
         */
        default void timedOut() {
        }

        /**
         * Waits up to {@code nanos} before the next poll. The default sleeps briefly (a GPU event has no blocking
         * wait from Java); a progress that waits on something that can block, such as a host receive, blocks on it
         * instead, so that a waiting CPU rank does not spin.
         */
        default void idle(long nanos) {
            LockSupport.parkNanos(Math.min(nanos, POLL_PARK_NANOS));
        }
    }

    private static final long POLL_PARK_NANOS = 20_000;

    private final CompletableFuture<Long> done = new CompletableFuture<>();
    private final String what;
    private final Duration timeout;
    private final Progress progress;

    public Handle(String what, Duration timeout) {
        this(what, timeout, null);
    }

    public Handle(String what, Duration timeout, Progress progress) {
        this.what = what;
        this.timeout = timeout;
        this.progress = progress;
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
        if (!done.isDone() && progress != null) {
            pollOnce();
        }
        return done.isDone();
    }

    public String what() {
        return what;
    }

    public Duration timeout() {
        return timeout;
    }

    /** Waits for completion; throws the transport's failure, or a timeout naming the operation. */
    public void await() {
        if (progress != null) {
            awaitPolling();
        }
        try {
            done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new TransportException(what + " did not complete within " + describe(timeout));
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

    private void awaitPolling() {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.isDone()) {
            if (pollOnce()) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                try {
                    progress.timedOut();
                } catch (RuntimeException e) {
                    done.completeExceptionally(e instanceof TransportException te ? te
                            : new TransportException(what + ": " + e.getMessage(), e));
                    return;
                }
                done.completeExceptionally(new TransportException(what + " did not complete within " + describe(timeout)));
                return;
            }
            progress.idle(Math.max(1, deadline - System.nanoTime()));
            if (Thread.currentThread().isInterrupted()) {
                done.completeExceptionally(new TransportException(what + " interrupted"));
                return;
            }
        }
    }

    /**
     * Blocks until this handle is done (completed or failed) or {@code nanos} have passed; never throws the
     * failure (that is {@link #await}'s job). For handles completed by another thread; a polled handle is polled once.
     */
    boolean waitDone(long nanos) {
        if (progress != null) {
            return isDone();
        }
        try {
            done.get(nanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // not done yet, or done with a failure that await() reports
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return done.isDone();
    }

    /** True once done (completed or failed). Polls may race between threads, so the progress is polled under a lock. */
    private boolean pollOnce() {
        synchronized (this) {
            if (done.isDone()) {
                return true;
            }
            try {
                if (progress.poll()) {
                    complete();
                }
            } catch (TransportException e) {
                done.completeExceptionally(e);
            } catch (RuntimeException e) {
                done.completeExceptionally(new TransportException(what + " failed: " + e.getMessage(), e));
            }
            return done.isDone();
        }
    }

    /** Whole seconds as before ("within 5 s"); sub-second timeouts in milliseconds, so that they do not read "0 s". */
    static String describe(Duration d) {
        if (d.toMillis() % 1000 == 0 || d.toMillis() == 0) {
            return d.toSeconds() + " s";
        }
        return d.toMillis() + " ms";
    }

    /** System.nanoTime() at completion; only valid once done. */
    public long completedAtNanos() {
        return done.join();
    }
}
