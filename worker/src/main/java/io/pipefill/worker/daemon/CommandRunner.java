package io.pipefill.worker.daemon;

import picocli.CommandLine;

/**
 * Runs a picocli command the way every pipefill entry point does: bad input and failed runs end with one
 * clear line on stderr and exit code 1; stack traces only with PIPEFILL_DEBUG set.
 */
public final class CommandRunner {
    private CommandRunner() {
    }

    /**
     * Where Logback is the SLF4J provider, it reads {@code pipefill-logback.xml} (warnings on stderr, stdout
     * kept for results) instead of its default (DEBUG lines on stdout). Call before anything logs; a command
     * that starts the control plane does not, as Spring Boot configures logging itself.
     */
    public static void quietLogging() {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "pipefill-logback.xml");
        }
    }

    /** Parses {@code args} into {@code command}, runs it and returns the exit code. */
    public static int execute(Object command, String... args) {
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("pipefill: error: " + message(e));
            if (System.getenv("PIPEFILL_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            m = e.getClass().getSimpleName();
        }
        if (e instanceof OutOfMemoryError) {
            m = "out of memory: " + m;
        }
        return m;
    }
}
