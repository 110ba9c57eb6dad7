package io.pipefill.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which agent URLs registration accepts, loopback included or not (the API tests run with loopback allowed). */
class AgentUrlPolicyTest {
    private final AgentUrlPolicy strict = new AgentUrlPolicy(false);
    private final AgentUrlPolicy local = new AgentUrlPolicy(true);

    @Test
    void loopbackIsRefusedUnlessAllowed() {
        for (String url : new String[] {"http://127.0.0.1:9100", "http://127.1.2.3:9100", "http://[::1]:9100",
                "http://localhost:9100", "http://agent.localhost:9100", "http://[::ffff:127.0.0.1]:9100"}) {
            assertThat(strict.problem(url)).as(url).contains("loopback").contains("pipefill.agents.allow-loopback");
            assertThat(local.problem(url)).as(url).isNull();
        }
    }

    @Test
    void linkLocalMetadataAndStructureAreRefusedEvenWithLoopbackAllowed() {
        assertThat(local.problem("http://169.254.169.254:80")).contains("link-local");
        assertThat(local.problem("http://169.254.170.2:80")).contains("link-local");
        assertThat(local.problem("http://[fd00:ec2::254]:80")).contains("metadata");
        assertThat(local.problem("http://168.63.129.16:80")).contains("metadata");
        assertThat(local.problem("http://metadata.google.internal.:80")).contains("metadata");
        assertThat(local.problem("http://224.0.0.1:80")).contains("multicast");
        assertThat(local.problem("http://127.0.0.1:19999/internal/admin?x=")).contains("nothing after the port");
        assertThat(local.problem("HTTP://10.1.2.3:9100")).isNull();
        assertThat(strict.problem("http://10.1.2.3:9100")).isNull();
        assertThat(strict.problem("https://[2001:db8::5]:9100")).isNull();
    }

    @Test
    void callsAreCheckedAgainWhatTheHostResolvesToNow() {
        assertThat(strict.callProblem("http://localhost:9100")).contains("loopback");
        assertThat(strict.callProblem("http://10.1.2.3:9100")).isNull();
        assertThat(local.callProblem("http://localhost:9100")).isNull();
    }
}
