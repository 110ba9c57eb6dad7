package io.pipefill.cli.images;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images' entry point run here as a container would run it: {@code /opt/pipefill/bin/pipefill} of the layout
 * {@code images/stage} makes, started from an empty directory with a bare environment (a JDK, no Maven, no
 * source tree, no {@code PIPEFILL_*} settings).
 */
class ImageLayoutTest {
    @TempDir
    Path workDir;

    @Test
    void theEntryPointRunsTheCliFromTheStagedJarsAlone() throws Exception {
        Path home = StagedImageLayout.home();
        assertThat(home.resolve("bin/pipefill")).isExecutable();
        assertThat(home.resolve("bin/pipefill-health")).isExecutable();
        try (var jars = Files.list(home.resolve("lib"))) {
            assertThat(jars.map(p -> p.getFileName().toString()).toList())
                    .allMatch(n -> n.endsWith(".jar"))
                    .contains("cli.jar", "control-plane.jar", "worker.jar", "shared-model.jar")
                    .as("test-only jars stay out of the image").noneMatch(n -> n.startsWith("junit-")
                            || n.startsWith("helm-java") || n.startsWith("kubernetes-server-mock"));
        }

        Run help = run(List.of(home.resolve("bin/pipefill").toString(), "--help"));
        assertThat(help.exit()).as(help.output()).isZero();
        assertThat(help.output()).contains("Usage: pipefill").contains("worker").contains("up");
        assertThat(help.output()).as("the incubator notice is filtered").doesNotContain("Using incubator modules");

        Run worker = run(List.of(home.resolve("bin/pipefill").toString(), "worker", "--help"));
        assertThat(worker.exit()).as(worker.output()).isZero();
        assertThat(worker.output()).contains("--control-plane").contains("--join-token-file").contains("--agent-port");

        Run wrong = run(List.of(home.resolve("bin/pipefill").toString(), "worker", "--no-such-option"));
        assertThat(wrong.exit()).as("a bad option fails the container").isNotZero();
        assertThat(wrong.output()).contains("--no-such-option");
    }

    @Test
    void theLauncherStartsJavaWithTheRepositoryLaunchersOptions() throws IOException {
        // one set of JVM options: the image's launcher and ./pipefill must not drift apart
        assertThat(jvmOptionLines(StagedImageLayout.IMAGES.resolve("bin/pipefill")))
                .isNotEmpty()
                .isEqualTo(jvmOptionLines(StagedImageLayout.REPOSITORY.resolve("pipefill")));
    }

    private static List<String> jvmOptionLines(Path launcher) throws IOException {
        return Files.readAllLines(launcher, UTF_8).stream().map(String::strip)
                .filter(l -> l.startsWith("JVM_OPTS=") || l.contains("JVM_OPTS+=")).toList();
    }

    record Run(int exit, String output) {
    }

    /** A command with the environment of a bare container: JAVA_HOME (the JDK running this test), PATH, HOME. */
    Run run(List<String> command) throws IOException, InterruptedException {
        Path log = Files.createTempFile(workDir, "run", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        ImageProcesses.bareEnvironment(pb, workDir);
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not end within 60 s: " + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log));
    }
}
