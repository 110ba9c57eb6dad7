package io.pipefill.cli.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Builds each image with {@code images/build} from the staged layout, where a container builder runs here (Docker
 * with a daemon that answers, Podman or Buildah) and the image's base images are present or can be pulled; then,
 * with Docker or Podman, runs the built entry point and reads the image's configuration. Elsewhere each image is
 * skipped with the reason (JUnit reports it), never passed silently.
 */
class ImageBuildTest {
    private static final String REGISTRY = "localhost/pipefill-test";

    @ParameterizedTest
    @ValueSource(strings = {"control-plane", "worker", "worker-cuda"})
    void buildsAndTheImageRunsThePipefillLauncherAsUser1000(String image) throws Exception {
        Builder builder = Builder.find();
        assumeTrue(builder.name() != null, builder.why());
        Containerfile file = Containerfile.read(StagedImageLayout.IMAGES.resolve(image).resolve("Containerfile"));
        for (var from : file.all("FROM")) {
            String base = from.arguments().split("\\s+")[0];
            Run present = builder.run(60, builder.inspectImage(base));
            if (present.exit() != 0) {
                Run pull = builder.run(900, List.of(builder.name(), "pull", base));
                assumeTrue(pull.exit() == 0, image + ": base image " + base + " is not present and cannot be pulled with "
                        + builder.name() + ": " + pull.tail());
            }
        }

        Path context = StagedImageLayout.context();
        Run build = builder.run(1800, List.of(StagedImageLayout.IMAGES.resolve("build").toString(), "--builder",
                builder.name(), "--registry", REGISTRY, "--tag", "test", "--context", context.toString(), image));
        assertThat(build.exit()).as("images/build %s: %s", image, build.tail()).isZero();
        String tag = REGISTRY + "/pipefill-" + image + ":test";
        if (builder.name().equals("buildah")) {
            return; // buildah builds; running and inspecting containers is docker's and podman's
        }
        Run help = builder.run(120, List.of(builder.name(), "run", "--rm", tag, "--help"));
        assertThat(help.exit()).as(help.tail()).isZero();
        assertThat(help.output()).contains("Usage: pipefill");
        Run user = builder.run(60, List.of(builder.name(), "image", "inspect", "--format", "{{.Config.User}}", tag));
        assertThat(user.output().strip()).isEqualTo("1000:1000");
        Run healthcheck = builder.run(60, List.of(builder.name(), "image", "inspect", "--format",
                "{{json .Config.Healthcheck}}", tag));
        assertThat(healthcheck.output()).contains("pipefill-health");
    }

    record Run(int exit, String output) {
        String tail() {
            return output.length() <= 2000 ? output : output.substring(output.length() - 2000);
        }
    }

    /** The first builder that works here; {@code name} null with {@code why} when none does. */
    record Builder(String name, String why) {
        static Builder find() throws IOException, InterruptedException {
            List<String> tried = new ArrayList<>();
            for (List<String> probe : List.of(List.of("docker", "info"), List.of("podman", "info"),
                    List.of("buildah", "version"))) {
                Run r = runOrMissing(probe);
                if (r.exit() == 0) {
                    return new Builder(probe.get(0), null);
                }
                tried.add(String.join(" ", probe) + ": " + (r.exit() == 127 ? "not on PATH"
                        : r.output().strip().lines().filter(l -> !l.isBlank()).reduce((a, b) -> b)
                                .orElse("exit " + r.exit()).strip()));
            }
            return new Builder(null, "no container builder here, the images are not built (" + String.join("; ", tried) + ")");
        }

        List<String> inspectImage(String image) {
            return name.equals("buildah") ? List.of("buildah", "inspect", "--type", "image", image)
                    : List.of(name, "image", "inspect", image);
        }

        Run run(int seconds, List<String> command) throws IOException, InterruptedException {
            return ImageBuildTest.run(seconds, command);
        }

        private static Run runOrMissing(List<String> command) throws IOException, InterruptedException {
            try {
                return ImageBuildTest.run(30, command);
            } catch (IOException e) {
                return new Run(127, e.getMessage());
            }
        }
    }

    static Run run(int seconds, List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("image-build", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                return new Run(124, command + " did not end within " + seconds + " s: " + Files.readString(out));
            }
            return new Run(p.exitValue(), Files.readString(out));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
