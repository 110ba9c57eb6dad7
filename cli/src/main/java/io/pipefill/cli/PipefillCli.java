package io.pipefill.cli;

import io.pipefill.cli.local.UpCommand;
import io.pipefill.worker.daemon.CommandRunner;
import io.pipefill.worker.daemon.WorkerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code pipefill} command line, the one picocli root of every command: the engine's (prefill, model,
 * plan, bench), the worker daemon's and the control plane's ({@code up}). The {@code pipefill} script only
 * builds the project and starts this class.
 */
@Command(name = "pipefill", mixinStandardHelpOptions = true, version = "pipefill 0.1.0",
        description = "Chunked pipeline-parallel prefill for ultra-long prompts.",
        subcommands = {UpCommand.class, ModelCommand.class, PrefillCommand.class, WorkerCommand.class, BenchCommand.class,
                       PlanCommand.class,
                       CommandLine.HelpCommand.class})
public final class PipefillCli {
    public static void main(String[] args) {
        boolean controlPlane = args.length > 0 && args[0].equals("up")
                || args.length > 1 && args[0].equals("bench") && args[1].equals("control-plane");
        if (!controlPlane) {
            CommandRunner.quietLogging();
        }
        System.exit(run(args));
    }

    public static int run(String... args) {
        return CommandRunner.execute(new PipefillCli(), args);
    }
}
