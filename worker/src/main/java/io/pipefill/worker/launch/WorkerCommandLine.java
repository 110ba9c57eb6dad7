package io.pipefill.worker.launch;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that starts a worker process ({@code pipefill worker ARGS}, through
 * {@link io.pipefill.worker.daemon.WorkerMain}) in a child JVM like this one: the same Java, the
 * same JVM flags (the Vector API module, native access) and the same class path. Debugger and agent flags
 * stay with the parent (a second JVM would fight over their ports); so does -Xmx, which a parent sized for
 * itself would otherwise impose on every worker.
 */
public final class WorkerCommandLine {
    private WorkerCommandLine() {
    }

    public static List<String> of(List<String> workerArgs) {
        List<String> cmd = sameJvm("io.pipefill.worker.daemon.WorkerMain");
        cmd.addAll(workerArgs);
        return cmd;
    }

    /** A child JVM like this one (as above) that runs {@code mainClass}; arguments go after it. */
    public static List<String> sameJvm(String mainClass) {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!arg.startsWith("-agentlib") && !arg.startsWith("-javaagent") && !arg.startsWith("-Xmx")) {
                cmd.add(arg);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        return cmd;
    }
}
