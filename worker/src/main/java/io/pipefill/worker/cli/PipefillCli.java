package io.pipefill.worker.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pipefill} command line. */
@Command(name = "pipefill", mixinStandardHelpOptions = true, version = "pipefill 0.1.0",
        description = "Chunked pipeline-parallel prefill for ultra-long prompts.",
        subcommands = {ModelCommand.class, PrefillCommand.class, WorkerCommand.class, BenchCommand.class,
                       PlanCommand.class,
                       CommandLine.HelpCommand.class})
public final class PipefillCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cli = new CommandLine(new PipefillCli());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // bad input and failed runs end with one clear line; stack traces only on request
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
