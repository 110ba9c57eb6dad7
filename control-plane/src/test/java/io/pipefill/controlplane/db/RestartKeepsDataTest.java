package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.cluster.Worker;
import io.pipefill.model.agent.WorkerRegistration;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.http.client.ReactorResourceFactory;
import org.springframework.context.ConfigurableApplicationContext;

/** The embedded database keeps its data directory: a second start sees what the first wrote. */
class RestartKeepsDataTest {
    @TempDir
    Path dataDir;

    private ConfigurableApplicationContext start() {
        // arguments outrank the test profile's random data directory. Own Netty resources: closing a context
        // that uses Reactor Netty's global ones disposes them under every other server and client in this JVM
        return new SpringApplicationBuilder(ControlPlaneApplication.class).profiles("test")
                .initializers(ctx -> ctx.getBeanFactory().addBeanPostProcessor(new BeanPostProcessor() {
                    @Override
                    public Object postProcessBeforeInitialization(Object bean, String name) {
                        if (bean instanceof ReactorResourceFactory f) {
                            f.setUseGlobalResources(false);
                        }
                        return bean;
                    }
                }))
                .run("--pipefill.data-dir=" + dataDir, "--server.port=0");
    }

    @Test
    void recordsSurviveARestart() {
        Worker w;
        try (ConfigurableApplicationContext first = start()) {
            w = first.getBean(ClusterRepository.class).register(new WorkerRegistration("node-restart", "h", 2, 1 << 30,
                    List.of(), Map.of(), "cpu", "http://h:1", null), Instant.now());
        }
        try (ConfigurableApplicationContext second = start()) {
            assertThat(second.getBean(ClusterRepository.class).worker(w.id())).isPresent();
            assertThat(second.getBean(ClusterRepository.class).nodes()).extracting(n -> n.name()).contains("node-restart");
        }
    }
}
