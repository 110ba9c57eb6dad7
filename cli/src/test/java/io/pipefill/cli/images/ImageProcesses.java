package io.pipefill.cli.images;

import java.nio.file.Path;
import java.util.Map;

/** How the tests start what the images run: with a container's bare environment, not this JVM's. */
public final class ImageProcesses {
    private ImageProcesses() {
    }

    /**
     * Clears the inherited environment (no PIPEFILL_* settings, no MAVEN_*, no KUBECONFIG) and sets what the images
     * set: JAVA_HOME (here the JDK running the tests; /opt/java/openjdk in the images), a PATH of system
     * directories and HOME.
     */
    public static void bareEnvironment(ProcessBuilder pb, Path home) {
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("JAVA_HOME", Path.of(System.getProperty("java.home")).toString());
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.put("HOME", home.toString());
    }
}
