package io.pipefill.worker.daemon;

/**
 * The worker daemon's own entry point ({@code pipefill worker} without the rest of the command line): what
 * a coordinator and {@code pipefill up} launch for each worker process (see
 * {@link io.pipefill.worker.launch.WorkerCommandLine}), so the worker module starts its own processes.
 */
public final class WorkerMain {
    private WorkerMain() {
    }

    public static void main(String[] args) {
        CommandRunner.quietLogging();
        System.exit(CommandRunner.execute(new WorkerCommand(), args));
    }
}
