package io.pipefill.worker.agent;

import io.pipefill.model.agent.Heartbeat;
import io.pipefill.model.agent.RegistrationAccepted;
import io.pipefill.model.agent.WorkerRegistration;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Keeps this worker known to the control plane: registers (retrying with backoff until accepted), then
 * sends heartbeats at the interval the control plane asked for. A 404 on a heartbeat means the control
 * plane lost the worker, a 401 that it does not know this worker's credential (it restarted with a fresh
 * database): register again, for a new id and credential. Network failures never end the worker; the first
 * failure of a streak is logged, and the recovery.
 */
final class Registrar implements AutoCloseable {
    private static final long FIRST_BACKOFF_MS = 250;
    private static final long MAX_BACKOFF_MS = 10_000;
    private static final long DEFAULT_HEARTBEAT_MS = 5_000;

    private final ControlPlaneClient client;
    private final Supplier<WorkerRegistration> registration;
    private final Supplier<Heartbeat> heartbeat;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "agent-heartbeat");
        t.setDaemon(true);
        return t;
    });
    private final CountDownLatch firstRegistration = new CountDownLatch(1);
    private volatile RegistrationAccepted accepted;
    private int attempt;
    private long backoffMs = FIRST_BACKOFF_MS;
    private boolean heartbeatFailing;

    Registrar(ControlPlaneClient client, Supplier<WorkerRegistration> registration, Supplier<Heartbeat> heartbeat) {
        this.client = client;
        this.registration = registration;
        this.heartbeat = heartbeat;
    }

    void start() {
        scheduler.execute(this::register);
    }

    /** The id the control plane gave this worker; null until the first registration is accepted. */
    String workerId() {
        RegistrationAccepted a = accepted;
        return a == null ? null : a.workerId();
    }

    boolean awaitRegistered(long millis) throws InterruptedException {
        return firstRegistration.await(millis, TimeUnit.MILLISECONDS);
    }

    private void register() {
        attempt++;
        try {
            RegistrationAccepted a = client.register(registration.get());
            accepted = a;
            System.err.println("pipefill agent: registered with " + client.base() + " as worker " + a.workerId()
                    + " (node " + a.nodeId() + ")");
            attempt = 0;
            backoffMs = FIRST_BACKOFF_MS;
            firstRegistration.countDown();
            scheduler.schedule(this::beat, interval(), TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            System.err.println("pipefill agent: registration at " + client.registrationUri() + " failed (attempt "
                    + attempt + "): " + ReportSender.describe(e) + "; retrying in " + backoffMs + " ms");
            scheduler.schedule(this::register, backoffMs, TimeUnit.MILLISECONDS);
            backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // a bug or an unreadable answer must not end the registration loop
            System.err.println("pipefill agent: registration at " + client.registrationUri() + " failed (attempt "
                    + attempt + "): " + e + "; retrying in " + backoffMs + " ms");
            scheduler.schedule(this::register, backoffMs, TimeUnit.MILLISECONDS);
            backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
        }
    }

    private void beat() {
        String id = workerId();
        try {
            int status = client.heartbeat(id, heartbeat.get());
            if (status == 404 || status == 401) {
                System.err.println("pipefill agent: the control plane at " + client.base() + " does not know worker "
                        + id + " (HTTP " + status + "); registering again");
                heartbeatFailing = false;
                scheduler.execute(this::register);
                return;
            }
            if (status / 100 != 2) {
                failed("answered " + status);
            } else if (heartbeatFailing) {
                heartbeatFailing = false;
                System.err.println("pipefill agent: heartbeats to " + client.base() + " get through again");
            }
        } catch (IOException e) {
            failed(ReportSender.describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (RuntimeException e) {
            failed(e.toString());
        }
        scheduler.schedule(this::beat, interval(), TimeUnit.MILLISECONDS);
    }

    private void failed(String why) {
        if (!heartbeatFailing) {
            heartbeatFailing = true;
            System.err.println("pipefill agent: heartbeat to " + client.base() + " failed (" + why
                    + "); still trying every " + interval() + " ms");
        }
    }

    private long interval() {
        RegistrationAccepted a = accepted;
        return a == null || a.heartbeatIntervalMs() <= 0 ? DEFAULT_HEARTBEAT_MS : a.heartbeatIntervalMs();
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
