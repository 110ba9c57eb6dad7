package io.pipefill.cli.images;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.cli.local.UpCommand;
import io.pipefill.worker.cuda.CudaLibraries;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.beans.factory.config.YamlMapFactoryBean;
import org.springframework.core.io.FileSystemResource;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * What each image promises, read from its Containerfile: the user it runs as, its entry point, its health check,
 * its base image, what it copies, and (CUDA) the libraries it makes sure of, held against the chart's values,
 * the staged layout and the CUDA backend's own list of libraries.
 */
class ContainerfileTest {
    private static final Path IMAGES = StagedImageLayout.IMAGES;
    /** A tag with a version number in it: a moving tag (latest, a bare major) would change the image under a rebuild. */
    private static final Pattern PINNED = Pattern.compile("[a-z0-9./-]+:(?=[^:]*\\d+\\.\\d+)[A-Za-z0-9._-]+");

    @ParameterizedTest
    @ValueSource(strings = {"control-plane", "worker", "worker-cuda"})
    void runsThePipefillLauncherAsANonRootUserWithAHealthCheckOnAPinnedBase(String image) throws IOException {
        Containerfile file = Containerfile.read(IMAGES.resolve(image).resolve("Containerfile"));

        for (var from : file.all("FROM")) {
            String base = from.arguments().split("\\s+")[0];
            assertThat(base).as("%s: FROM %s", image, base).matches(PINNED).doesNotEndWith(":latest");
        }
        // a numeric user: Kubernetes' runAsNonRoot can only verify a number, and the chart runs as 1000
        assertThat(file.last("USER")).as(image).hasValueSatisfying(u -> assertThat(u.arguments()).isEqualTo("1000:1000"));
        assertThat(file.finalStage()).as("%s: the USER is the final stage's, the one the image runs with", image)
                .contains(file.last("USER").orElseThrow());
        assertThat(file.last("ENTRYPOINT")).as(image)
                .hasValueSatisfying(e -> assertThat(e.execForm()).containsExactly("pipefill"));
        // the launcher and the health check come from the staged layout and are on PATH
        assertThat(file.finalStage()).as(image).anySatisfy(i -> {
            assertThat(i.keyword()).isEqualTo("COPY");
            assertThat(i.arguments()).isEqualTo("opt/pipefill /opt/pipefill");
        });
        assertThat(file.finalStage()).as(image).anySatisfy(i -> {
            assertThat(i.keyword()).isEqualTo("ENV");
            assertThat(i.arguments()).containsPattern("PATH=/opt/pipefill/bin:");
        });
        assertThat(IMAGES.resolve("bin").resolve(file.last("ENTRYPOINT").orElseThrow().execForm().get(0))).isExecutable();

        var health = file.last("HEALTHCHECK").orElseThrow(() -> new AssertionError(image + " has no HEALTHCHECK"));
        List<String> check = health.execForm();
        assertThat(check.get(0)).isEqualTo("pipefill-health");
        assertThat(IMAGES.resolve("bin").resolve(check.get(0))).isExecutable();
        assertThat(health.arguments()).containsPattern("--timeout=\\d+s").containsPattern("--start-period=\\d+s");
        Map<String, Object> values = chartValues();
        if (image.equals("control-plane")) {
            // the port `up` listens on in this image, and the chart's
            assertThat(check).containsExactly("pipefill-health", "http", "8080", "/actuator/health");
            assertThat(port(values, "controlPlane", "port")).isEqualTo(8080);
        } else {
            assertThat(check).containsExactly("pipefill-health", "tcp", "9000");
            assertThat(port(values, "worker", "agentPort")).as("the chart's agent port").isEqualTo(9000);
        }
        assertThat(file.all("EXPOSE")).extracting(Containerfile.Instruction::arguments).containsExactly(check.get(2));
    }

    @Test
    void theControlPlaneStartsAsTheChartStartsIt() throws IOException {
        Containerfile file = Containerfile.read(IMAGES.resolve("control-plane/Containerfile"));
        List<String> cmd = file.last("CMD").orElseThrow().execForm();
        assertThat(cmd.get(0)).isEqualTo("up");
        ParseResult up = new CommandLine(new UpCommand()).parseArgs(cmd.subList(1, cmd.size()).toArray(String[]::new));
        assertThat(up.matchedOptionValue("--local-workers", -1)).as("no local workers in a container").isEqualTo(0);
        assertThat(up.matchedOptionValue("--model", "")).isEqualTo("none");
        assertThat(up.matchedOptionValue("--bind", "")).as("reachable from outside the container").isEqualTo("0.0.0.0");
        assertThat(up.matchedOptionValue("--port", 0)).isEqualTo(8080);
        assertThat(up.matchedOptionValue("--data-dir", Path.of(""))).isEqualTo(Path.of("/data"));
        assertThat(file.all("VOLUME")).extracting(Containerfile.Instruction::arguments).containsExactly("[\"/data\"]");
    }

    @Test
    void theCudaWorkerIsOnACuda13CudnnRuntimeAndChecksEveryLibraryTheBackendLoads() throws IOException {
        Containerfile file = Containerfile.read(IMAGES.resolve("worker-cuda/Containerfile"));
        assertThat(file.finalBase()).as("CUDA 13 runtime with cuDNN").matches("nvidia/cuda:13\\.\\d+\\.\\d+-cudnn-runtime-.+");
        // the build fails unless each library is there; all but the driver's, which the container toolkit mounts
        Set<String> checked = new LinkedHashSet<>();
        Matcher m = Pattern.compile("for so in ([^;]+);").matcher(String.join("\n",
                file.all("RUN").stream().map(Containerfile.Instruction::arguments).toList()));
        assertThat(m.find()).as("the RUN that checks the libraries").isTrue();
        checked.addAll(List.of(m.group(1).strip().split("\\s+")));
        Set<String> required = CudaLibraries.REQUIRED.keySet().stream().filter(so -> !so.equals("libcuda.so.1"))
                .collect(Collectors.toSet());
        assertThat(checked).containsExactlyInAnyOrderElementsOf(required);
        // a JDK beside CUDA: the Temurin JDK (it has jdk.incubator.vector; its JRE images do not)
        assertThat(file.all("FROM").get(0).arguments()).startsWith("eclipse-temurin:").contains("-jdk-");
        assertThat(file.all("COPY")).anySatisfy(c -> assertThat(c.arguments()).startsWith("--from=java /opt/java/openjdk"));
        assertThat(file.last("CMD").orElseThrow().execForm()).containsSequence("--backend", "cuda");
    }

    @Test
    void theJavaImagesUseTheSameJdk() throws IOException {
        Set<String> jdks = new LinkedHashSet<>();
        for (String image : List.of("control-plane", "worker", "worker-cuda")) {
            Containerfile.read(IMAGES.resolve(image).resolve("Containerfile")).all("FROM").stream()
                    .map(f -> f.arguments().split("\\s+")[0]).filter(b -> b.startsWith("eclipse-temurin:"))
                    .forEach(jdks::add);
        }
        assertThat(jdks).singleElement().satisfies(j -> assertThat(j).contains("-jdk-"));
    }

    private static Map<String, Object> chartValues() {
        YamlMapFactoryBean yaml = new YamlMapFactoryBean();
        yaml.setResources(new FileSystemResource(StagedImageLayout.REPOSITORY.resolve("charts/pipefill/values.yaml")));
        return yaml.getObject();
    }

    @SuppressWarnings("unchecked")
    private static int port(Map<String, Object> values, String section, String key) {
        return ((Number) ((Map<String, Object>) values.get(section)).get(key)).intValue();
    }
}
