package io.pipefill.cli.images;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * What the images copy to {@code /opt/pipefill} (the launcher, the health check and every runtime jar), laid out
 * by the repository's own {@code images/stage} from this module's runtime class path: the file
 * {@code target/runtime-classpath.txt} the build writes (maven-dependency-plugin's build-classpath) plus this
 * module's classes. Reactor modules are class directories while tests run (nothing is packaged yet), so they are
 * put into jars here first, one per module, as {@code mvn package} would.
 *
 * <p>Made once per test JVM under {@code target/image-layout}, and shared by the tests that run it.
 */
public final class StagedImageLayout {
    /** The repository root, relative to the cli module (the tests' working directory). */
    public static final Path REPOSITORY = Path.of("..").toAbsolutePath().normalize();
    public static final Path IMAGES = REPOSITORY.resolve("images");

    private static Path context;

    private StagedImageLayout() {
    }

    /** The build context: {@code <context>/opt/pipefill/{bin,lib}}, staged on first use. */
    public static synchronized Path context() throws IOException, InterruptedException {
        if (context == null) {
            context = stage(Path.of("target", "image-layout").toAbsolutePath());
        }
        return context;
    }

    /** {@code /opt/pipefill} of the staged layout. */
    public static Path home() throws IOException, InterruptedException {
        return context().resolve("opt/pipefill");
    }

    private static Path stage(Path dir) throws IOException, InterruptedException {
        Path classpathFile = Path.of("target", "runtime-classpath.txt");
        if (!Files.isRegularFile(classpathFile)) {
            throw new IllegalStateException(classpathFile.toAbsolutePath() + " is missing: the build writes it "
                    + "(maven-dependency-plugin build-classpath, generate-test-resources); run the tests through Maven");
        }
        List<Path> entries = new ArrayList<>();
        for (String entry : Files.readString(classpathFile, UTF_8).trim().split(File.pathSeparator)) {
            if (!entry.isBlank()) {
                entries.add(Path.of(entry));
            }
        }
        entries.add(0, Path.of("target", "classes").toAbsolutePath());

        Path jars = dir.resolve("jars");
        Path out = dir.resolve("context");
        deleteRecursively(dir);
        Files.createDirectories(jars);
        List<String> command = new ArrayList<>(List.of(IMAGES.resolve("stage").toString(), out.toString()));
        for (Path entry : entries) {
            if (Files.isDirectory(entry)) {
                // <module>/target/classes → <module>.jar
                Path jar = jars.resolve(entry.getParent().getParent().getFileName() + ".jar");
                jarDirectory(entry, jar);
                command.add(jar.toString());
            } else if (entry.toString().endsWith(".jar")) {
                command.add(entry.toString());
            } else {
                throw new IllegalStateException("runtime class path entry " + entry + " is neither a jar nor a directory");
            }
        }
        Process stage = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("stage.log").toFile()).start();
        if (!stage.waitFor(60, TimeUnit.SECONDS) || stage.exitValue() != 0) {
            stage.destroyForcibly();
            throw new IllegalStateException("images/stage failed: " + Files.readString(dir.resolve("stage.log")));
        }
        return out;
    }

    private static void jarDirectory(Path classes, Path jar) throws IOException {
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file);
             Stream<Path> walk = Files.walk(classes)) {
            for (Path p : walk.sorted().toList()) {
                if (p.equals(classes)) {
                    continue;
                }
                String name = classes.relativize(p).toString().replace(File.separatorChar, '/');
                JarEntry e = new JarEntry(Files.isDirectory(p) ? name + "/" : name);
                e.setLastModifiedTime(FileTime.fromMillis(0));
                out.putNextEntry(e);
                if (Files.isRegularFile(p)) {
                    Files.copy(p, out);
                }
                out.closeEntry();
            }
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.delete(p);
            }
        }
    }
}
