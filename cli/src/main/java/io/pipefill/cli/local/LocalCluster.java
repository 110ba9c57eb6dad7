package io.pipefill.cli.local;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.security.Tokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.ContextClosedEvent;

/**
 * A control plane started in this process, and {@link LocalWorkers} launched once it listens: the one-machine
 * setup of {@code pipefill up} and of the control-plane benchmark. The workers are stopped when the control
 * plane's context closes (its shutdown hook included) and exit by themselves when this process dies.
 *
 * <p>The command classes reach Spring only through this class, so the command tree loads where the control
 * plane's jars are absent (the GPU check's bundle).
 */
final class LocalCluster implements AutoCloseable {
    private final ConfigurableApplicationContext context;
    private final LocalWorkers workers;

    private LocalCluster(ConfigurableApplicationContext context, LocalWorkers workers) {
        this.context = context;
        this.workers = workers;
    }

    /** Starts the control plane with Spring arguments ({@code --key=value}) and {@code workers} CPU workers. */
    static LocalCluster start(String[] springArgs, int workers, int threadsPerWorker) {
        // the local workers' agents listen on 127.0.0.1: this control plane must accept loopback agent URLs (a default
        // property: --pipefill.agents.allow-loopback=false or PIPEFILL_AGENTS_ALLOW_LOOPBACK=false still win)
        SpringApplication app = new SpringApplication(ControlPlaneApplication.class);
        app.setDefaultProperties(java.util.Map.of("pipefill.agents.allow-loopback", "true"));
        ConfigurableApplicationContext context = app.run(springArgs);
        try {
            int port = ((WebServerApplicationContext) context).getWebServer().getPort();
            LocalWorkers launched = LocalWorkers.launch(workers, threadsPerWorker,
                    "http://" + reachableHost(context.getEnvironment().getProperty("server.address")) + ":" + port,
                    context.getBean(Tokens.class).join(),
                    context.getBean(PipefillProperties.class).dataDir().resolve("logs"));
            context.addApplicationListener((ContextClosedEvent closed) -> launched.close());
            return new LocalCluster(context, launched);
        } catch (IOException e) {
            context.close();
            throw new UncheckedIOException("could not launch local workers: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    /** Where a local worker reaches a control plane bound to {@code address}: that address, or loopback for a wildcard. */
    static String reachableHost(String address) {
        if (address == null || address.isBlank() || address.equals("0.0.0.0") || address.equals("::")
                || address.equals("[::]")) {
            return "127.0.0.1";
        }
        return address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
    }

    int port() {
        return ((WebServerApplicationContext) context).getWebServer().getPort();
    }

    ConfigurableApplicationContext context() {
        return context;
    }

    LocalWorkers workers() {
        return workers;
    }

    /** Blocks until the control plane's context is closed (by its shutdown hook, on SIGTERM or Ctrl-C). */
    void awaitClosed() throws InterruptedException {
        while (context.isActive()) {
            Thread.sleep(200);
        }
    }

    @Override
    public void close() {
        workers.close();
        context.close();
    }
}
