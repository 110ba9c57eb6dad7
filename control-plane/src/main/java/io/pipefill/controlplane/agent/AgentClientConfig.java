package io.pipefill.controlplane.agent;

import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.pipefill.controlplane.cluster.AgentUrlPolicy;
import io.pipefill.controlplane.cluster.WorkerCredentials;
import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.client.WebClient;

@Configuration(proxyBeanMethods = false)
class AgentClientConfig {
    @Bean
    AgentClient agentClient(WebClient.Builder builder, CircuitBreakerRegistry breakers, RetryRegistry retries,
                            @Value("${pipefill.agent-call-timeout:5s}") Duration timeout, WorkerCredentials credentials,
                            AgentUrlPolicy urls) {
        return new AgentClient(builder, breakers, retries, timeout, w -> credentials.agentToken(w.id()), urls);
    }
}
