package io.pipefill.controlplane.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.pipefill.cli.PipefillCli;
import io.pipefill.worker.agent.AgentOptions;
import io.pipefill.worker.daemon.WorkerCommand;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** A worker container (the chart's or a kubectl-applied one) as {@code pipefill worker} reads it. */
final class WorkerContainers {
    private WorkerContainers() {
    }

    /**
     * The worker's own command line parses the container's arguments (with Kubernetes' {@code $(VAR)} expansion
     * from its environment), and the agent options are made the way {@code pipefill worker} makes them, so that
     * their validation runs too; the join token is read from the Secret file {@code --join-token-file} names.
     */
    static AgentOptions agentOptions(Container container, Map<String, String> env, Map<String, String> secretFiles) {
        assertThat(container.getCommand()).containsExactly("pipefill");
        List<String> args = Kubelet.expandedArgs(container, env);
        ParseResult parsed = new CommandLine(new PipefillCli()).parseArgs(args.toArray(String[]::new));
        assertThat(parsed.subcommand()).as("a subcommand in %s", args).isNotNull();
        CommandSpec worker = parsed.subcommand().commandSpec();
        assertThat(worker.name()).isEqualTo("worker");
        assertThat(worker.findOption("--join-token").<String>getValue())
                .as("the join token never comes from the command line").isNull();
        assertThat(env).as("nor from the environment, which process dumps show").doesNotContainKey(WorkerCommand.TOKEN_ENV);
        Path tokenFile = worker.findOption("--join-token-file").getValue();
        assertThat(tokenFile).as("the join token is a file mounted from the Secret").isNotNull();
        assertThat(secretFiles).containsKey(tokenFile.toString());
        Map<String, String> labels = worker.findOption("--label").getValue();
        return new AgentOptions(URI.create(worker.findOption("--control-plane").getValue()),
                secretFiles.get(tokenFile.toString()), worker.findOption("--agent-host").getValue(),
                worker.findOption("--agent-port").<Integer>getValue(), worker.findOption("--node-name").getValue(),
                worker.findOption("--threads").<Integer>getValue(), labels, worker.findOption("--backend").getValue());
    }
}
