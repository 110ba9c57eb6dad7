package io.pipefill.controlplane.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.PipefillProperties;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/** Blank token properties: generated once into the data dir (mode 600, printed once), reused on later starts. */
@ExtendWith(OutputCaptureExtension.class)
class TokensTest {
    @TempDir
    Path dataDir;

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(PipefillProperties.class)
    @Import(Tokens.class)
    static class TokensOnly {
    }

    private ApplicationContextRunner runner() {
        // only the Tokens bean: the part under test, without a database to start per context
        return new ApplicationContextRunner().withUserConfiguration(TokensOnly.class)
                .withPropertyValues("pipefill.data-dir=" + dataDir, "pipefill.admin-token=", "pipefill.join-token=");
    }

    @Test
    void generatesOnFirstStartAndReusesAfter(CapturedOutput output) throws Exception {
        String[] first = new String[2];
        runner().run(ctx -> {
            Tokens t = ctx.getBean(Tokens.class);
            first[0] = t.admin();
            first[1] = t.join();
        });
        Path admin = dataDir.resolve("admin-token");
        Path join = dataDir.resolve("join-token");
        assertThat(first[0]).matches("[A-Za-z0-9_-]{43}").isNotEqualTo(first[1]);
        assertThat(first[1]).matches("[A-Za-z0-9_-]{43}");
        assertThat(Files.readString(admin).trim()).isEqualTo(first[0]);
        assertThat(Files.readString(join).trim()).isEqualTo(first[1]);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(admin))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(join))).isEqualTo("rw-------");
        // the files are named; the tokens never appear (stdout ends up in container logs)
        assertThat(output.getOut()).contains("pipefill: generated the admin token into " + admin + " (mode 600)")
                .contains("pipefill: generated the join token into " + join + " (mode 600)")
                .doesNotContain(first[0]).doesNotContain(first[1]);
        int printed = output.getOut().length();

        runner().run(ctx -> {
            Tokens t = ctx.getBean(Tokens.class);
            assertThat(t.admin()).isEqualTo(first[0]);
            assertThat(t.join()).isEqualTo(first[1]);
        });
        // the second start does not show the tokens again
        assertThat(output.getOut().substring(printed)).doesNotContain(first[0]).doesNotContain(first[1]);
    }

    @Test
    void configuredTokensWinAndRolesCompare() {
        runner().withPropertyValues("pipefill.admin-token=a-secret", "pipefill.join-token=j-secret").run(ctx -> {
            Tokens t = ctx.getBean(Tokens.class);
            assertThat(t.roleOf("a-secret")).isEqualTo("ADMIN");
            assertThat(t.roleOf("j-secret")).isEqualTo("JOIN");
            assertThat(t.roleOf("a-secreT")).isNull();
            assertThat(t.roleOf("")).isNull();
            assertThat(Files.exists(dataDir.resolve("admin-token"))).isFalse();
        });
    }
}
