package io.pipefill.worker.launch;

import com.fasterxml.jackson.databind.JsonNode;
import io.pipefill.worker.pipeline.StageWorker;
import io.pipefill.worker.pipeline.RunClock;
import io.pipefill.worker.pipeline.PipelineSink;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.comm.DeviceRank;
import io.pipefill.worker.backends.Placement;
import io.pipefill.model.ModelDirectory;
import io.pipefill.worker.comm.RunSecret;
import io.pipefill.worker.comm.SocketTransport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A worker daemon: registers with the coordinator, receives the job and its peers' addresses, connects the
 * socket transport, loads its shard and runs its {@link StageWorker}, reporting over the control channel. With
 * the cuda backend (named in the job) it first takes its GPU and joins its NCCL communicators ({@link DeviceRank}).
 * If the coordinator goes away the worker exits at once, so no rank outlives a failed run.
 */
public final class WorkerProcess {
    /** The environment variable a coordinator hands its launch's secret in (never the command line). */
    public static final String RUN_SECRET_ENV = "PIPEFILL_RUN_SECRET";

    private WorkerProcess() {
    }

    /** What a worker's hello proves with the launch's secret: that it is the coordinator's rank {@code rank}. */
    static String helloLabel(int rank) {
        return "pipefill coordinator hello: rank " + rank;
    }

    /** Runs one rank to completion; returns the process exit code. */
    public static int run(String coordinatorHost, int coordinatorPort, int rank, String bindHost) throws IOException {
        RunSecret secret = RunSecret.parse(System.getenv(RUN_SECRET_ENV), RUN_SECRET_ENV);
        try (ServerSocket data = new ServerSocket(0, 64, InetAddress.getByName(bindHost));
             ControlChannel control = new ControlChannel(new Socket(coordinatorHost, coordinatorPort))) {
            control.send(Map.of("type", "hello", "rank", rank, "host", bindHost, "port", data.getLocalPort(), "proof",
                    Base64.getUrlEncoder().withoutPadding().encodeToString(secret.tag(helloLabel(rank)))));
            JsonNode job = control.receive();
            if (job == null || !"job".equals(job.path("type").asText())) {
                throw new IOException("coordinator closed the connection before sending the job");
            }
            PipelineSpec spec = JobCodec.decode(job.get("spec"));
            Backends.Kind backend = Backends.Kind.valueOf(job.path("backend").asText("cpu"));
            List<InetSocketAddress> peers = new ArrayList<>();
            for (JsonNode p : job.get("peers")) {
                peers.add(new InetSocketAddress(p.get("host").asText(), p.get("port").asInt()));
            }
            CompletableFuture<RunClock> start = new CompletableFuture<>();
            Thread watcher = new Thread(() -> watchCoordinator(control, start), "coordinator-watch");
            watcher.setDaemon(true);
            watcher.start();
            DeviceRank gpu = null;
            int hidden = ModelDirectory.open(Path.of(spec.modelDir())).config().hiddenSize();
            try (SocketTransport transport = SocketTransport.connect(rank, data, peers, spec.peerTimeout(),
                    spec.peerTimeout(), spec.topology()::describe,
                    SocketTransport.Admission.of(secret, spec.maxFrameFloats(hidden)))) {
                // cuda: this rank's GPU and NCCL communicators, joined with every other rank before any loading
                gpu = Backends.joinDeviceRank(backend, transport, spec.topology(), spec.peerTimeout());
                StageWorker worker = gpu != null
                        ? new StageWorker(transport, gpu.activationLink(), Placement.joined(gpu), spec, new ControlSink(control),
                                start::join)
                        : new StageWorker(transport, spec, new ControlSink(control), start::join);
                worker.run();
                control.send(new RankReport.Done(rank));
                // stay until the coordinator says so: peers may still be reading what this rank sent
                watcher.join();
                return 0;
            } catch (RuntimeException e) {
                control.send(new RankReport.Failed(rank, e.getMessage() == null ? e.toString() : e.getMessage()));
                return 1;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 1;
            } finally {
                // after the shutdown message, so that every rank leaves its communicators at about the same time
                if (gpu != null) {
                    gpu.close();
                }
            }
        }
    }

    /** Reads the coordinator's messages: the start signal, then shutdown; end of stream kills the process. */
    private static void watchCoordinator(ControlChannel control, CompletableFuture<RunClock> start) {
        try {
            while (true) {
                JsonNode m = control.receive();
                if (m == null) {
                    System.err.println("pipefill worker: coordinator connection closed; exiting");
                    Runtime.getRuntime().halt(3);
                }
                switch (m.path("type").asText()) {
                    case "start" -> start.complete(new RunClock(m.get("epochMicros").asLong()));
                    case "shutdown" -> {
                        return;
                    }
                    default -> { }
                }
            }
        } catch (IOException e) {
            System.err.println("pipefill worker: coordinator connection failed (" + e.getMessage() + "); exiting");
            Runtime.getRuntime().halt(3);
        }
    }

    /** Reports to the coordinator: each report is one JSON message (its {@code type} says which). */
    private record ControlSink(ControlChannel control) implements PipelineSink {
        @Override
        public void report(RankReport report) {
            try {
                control.send(report);
            } catch (IOException e) {
                throw new IllegalStateException("lost the coordinator: " + e.getMessage(), e);
            }
        }
    }
}
