package io.pipefill.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The GPU check's bundle carries the cli jar without the control plane's jars (Spring, Jackson 3): the whole
 * command tree must still load there, since picocli introspects every command at start-up and the bytecode
 * verifier loads the types a command's methods assign to each other. Only LocalCluster may touch Spring.
 */
class CommandTreeWithoutSpringTest {
    @Test
    void theCommandTreeLoadsWithoutTheControlPlanesJars() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String e = entry.replace('\\', '/');
            boolean controlPlaneSide = e.contains("/org/springframework/") || e.contains("/control-plane/")
                    || e.contains("/tools/jackson/") || e.contains("control-plane-");
            if (!controlPlaneSide) {
                urls.add(Path.of(entry).toUri().toURL());
            }
        }
        try (URLClassLoader withoutSpring = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            assertThatThrownBy(() -> Class.forName("org.springframework.context.ApplicationContext", false, withoutSpring))
                    .as("the class path really lacks Spring").isInstanceOf(ClassNotFoundException.class);
            Class<?> cli = Class.forName(PipefillCli.class.getName(), true, withoutSpring);
            Class<?> commandLine = Class.forName("picocli.CommandLine", true, withoutSpring);
            Object root = commandLine.getConstructor(Object.class).newInstance(cli.getConstructor().newInstance());
            @SuppressWarnings("unchecked")
            java.util.Map<String, ?> subcommands = (java.util.Map<String, ?>) commandLine.getMethod("getSubcommands").invoke(root);
            assertThat(subcommands).containsKeys("up", "prefill", "model", "plan", "worker", "bench");
        }
    }
}
