package io.pipefill.controlplane;

import org.springframework.boot.context.event.ApplicationStartingEvent;
import org.springframework.context.ApplicationListener;

/**
 * Reactor Netty 1.3.6 (Spring Boot 4.0.7's) can stop reading a keep-alive connection when the next request
 * arrives before the previous request's operations have terminated: that request is never answered
 * (reactor/reactor-netty#4347, #4361). Seen here under load, from the JDK HTTP client and from WebTestClient
 * alike, about once in 40 000 requests. Its documented stopgap, {@code lastFlushWhenNoRead}, terminates the
 * previous operations before the next request is looked at, which closes that route (the pipelined route
 * stays, and no client of ours pipelines). Set as the application starts, before any Netty server class
 * reads it; an explicit -D setting wins. Drop this with a Reactor Netty release that carries the fix.
 * Registered in META-INF/spring.factories so that every entry point (main, tests, benchmarks) gets it.
 */
public final class NettyKeepAliveWorkaround implements ApplicationListener<ApplicationStartingEvent> {
    static final String PROPERTY = "reactor.netty.http.server.lastFlushWhenNoRead";

    @Override
    public void onApplicationEvent(ApplicationStartingEvent event) {
        if (System.getProperty(PROPERTY) == null) {
            System.setProperty(PROPERTY, "true");
        }
    }
}
