package io.pipefill.worker.launch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RunCollector;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineRunner;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.pipeline.RunClock;
import io.pipefill.worker.comm.RunSecret;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator: launches one worker process per rank on this host, hands them the job and each other's
 * addresses, starts the run clock once every shard is loaded, and gathers progress, results and
 * timelines. A worker that exits or closes its connection ends the run within seconds: every other worker
 * is killed and the error names the lost rank.
 */
public final class ProcessPipeline implements PipelineRunner {
    private static final ObjectMapper JSON = ControlChannel.JSON;
    /** How long a connection to the coordinator may take to say hello before it is dropped as a stranger. */
    private static final int HELLO_MILLIS = 5_000;
    private static final int HELLO_MAX_CHARS = 4096;

    /** A rank's report, or (report null) why its connection was lost. */
    private record Message(int rank, RankReport report, String lostReason) {
    }

    private final Backends.Kind backend;
    private final PrintStream log;
    private final Duration rendezvous;

    /**
     * With {@code backend} cuda every rank is a worker process on its own GPU (rank r on GPU r, see
     * cuda.DeviceAssignment), hidden states and TP all-reduces over NCCL. Progress lines go to {@code log};
     * every worker must register within {@code rendezvous}.
     */
    public ProcessPipeline(Backends.Kind backend, PrintStream log, Duration rendezvous) {
        this.backend = backend;
        this.log = log;
        this.rendezvous = rendezvous;
    }

    @Override
    public PipelineResult run(PipelineSpec spec) throws IOException {
        return new Launch(spec).run();
    }

    /** One run: its worker processes, their control channels and what they sent. */
    private final class Launch {
        private final PipelineSpec spec;
        /** This launch's secret: its workers get it in their environment, prove it in their hello and at their data ports. */
        private final RunSecret secret = RunSecret.generate();
        private final List<Process> processes = new ArrayList<>();
        private final List<ControlChannel> channels = new ArrayList<>();
        private final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        private Path logDir;

        Launch(PipelineSpec spec) {
            this.spec = spec;
        }

        PipelineResult run() throws IOException {
            int world = spec.topology().worldSize();
            logDir = Files.createTempDirectory("pipefill-workers-");
            Thread cleanup = new Thread(this::killAll, "pipefill-kill-workers");
            Runtime.getRuntime().addShutdownHook(cleanup);
            try (ServerSocket server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress())) {
                for (int r = 0; r < world; r++) {
                    processes.add(launch(r, server.getLocalPort()));
                }
                ControlChannel[] byRank = acceptAll(server, world);
                ArrayNode peers = JSON.createArrayNode();
                for (int r = 0; r < world; r++) {
                    channels.add(byRank[r]);
                }
                for (int r = 0; r < world; r++) {
                    int rank = r;
                    Thread reader = new Thread(() -> readLoop(rank, byRank[rank]), "control-rank-" + r);
                    reader.setDaemon(true);
                    reader.start();
                }
                // hello messages were consumed by acceptAll; it stored the addresses
                for (int r = 0; r < world; r++) {
                    peers.addObject().put("host", addresses[r].host).put("port", addresses[r].port);
                }
                ObjectNode job = JSON.createObjectNode();
                job.put("type", "job");
                job.set("spec", JobCodec.encode(spec));
                job.put("backend", backend.name());
                job.set("peers", peers);
                for (ControlChannel c : channels) {
                    c.send(job);
                }
                RunCollector collector = new RunCollector(spec.topology().worldSize(), spec.requests().size());
                int loaded = 0;
                while (loaded < world) {
                    RankReport m = next();
                    handle(m, collector);
                    if (m instanceof RankReport.Loaded) {
                        loaded++;
                    }
                }
                long epoch = RunClock.nowMicros();
                for (ControlChannel c : channels) {
                    c.send(Map.of("type", "start", "epochMicros", epoch));
                }
                while (!collector.allDone()) {
                    handle(next(), collector);
                }
                for (ControlChannel c : channels) {
                    c.send(Map.of("type", "shutdown"));
                }
                for (Process p : processes) {
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        p.destroyForcibly();
                    }
                }
                return PipelineResult.of(spec, collector.finish());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } finally {
                killAll();
                channels.forEach(ControlChannel::close);
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException ignored) {
                    // already shutting down
                }
            }
        }

        /** Records one worker report; the same for every phase, since reports of different kinds may interleave. */
        private void handle(RankReport m, RunCollector collector) {
            collector.accept(m);
            if (m instanceof RankReport.Progress p) {
                log.printf("  chunk %d/%d  %d/%d tokens%n", p.chunk() + 1, p.chunks(), p.done(), p.total());
            }
        }

        private record Address(String host, int port) {
        }

        private Address[] addresses;

        private Process launch(int rank, int port) throws IOException {
            List<String> cmd = WorkerCommandLine.of(List.of("--coordinator", "127.0.0.1:" + port, "--rank", String.valueOf(rank)));
            Path logFile = logDir.resolve("rank-" + rank + ".log");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile());
            // in the environment, not the command line: other users of the host can read command lines
            pb.environment().put(WorkerProcess.RUN_SECRET_ENV, secret.encoded());
            return pb.start();
        }

        /** Accepts every rank's hello, naming the ranks that never registered or exited early. */
        private ControlChannel[] acceptAll(ServerSocket server, int world) throws IOException, InterruptedException {
            ControlChannel[] byRank = new ControlChannel[world];
            addresses = new Address[world];
            long deadline = System.nanoTime() + rendezvous.toNanos();
            int registered = 0;
            server.setSoTimeout(250);
            while (registered < world) {
                for (int r = 0; r < world; r++) {
                    if (byRank[r] == null && !processes.get(r).isAlive()) {
                        throw failure(r, "exited with code " + processes.get(r).exitValue() + " before registering");
                    }
                }
                if (System.nanoTime() > deadline) {
                    List<String> missing = new ArrayList<>();
                    for (int r = 0; r < world; r++) {
                        if (byRank[r] == null) {
                            missing.add(spec.topology().describe(r));
                        }
                    }
                    throw new IllegalStateException(String.join(", ", missing) + " never registered within "
                            + rendezvous.toSeconds() + " s (worker logs in " + logDir + ")");
                }
                Socket s;
                try {
                    s = server.accept();
                } catch (SocketTimeoutException e) {
                    continue;
                }
                ControlChannel c = new ControlChannel(s);
                String refused = admit(c, world, byRank);
                if (refused != null) {
                    // a stranger on the coordinator's port: turned away, and the launch goes on waiting for its ranks
                    log.println("pipefill: the coordinator refused a connection from " + s.getRemoteSocketAddress() + ": "
                            + refused);
                    c.close();
                    continue;
                }
                JsonNode hello = helloOf(c);
                int rank = hello.get("rank").asInt();
                byRank[rank] = c;
                addresses[rank] = new Address(hello.get("host").asText(), hello.get("port").asInt());
                registered++;
            }
            return byRank;
        }

        private final Map<ControlChannel, JsonNode> hellos = new java.util.HashMap<>();

        /**
         * Reads a connection's hello within {@link #HELLO_MILLIS}: null when it is one of this launch's workers
         * (its rank expected, its proof made with the launch's secret), else why it is refused.
         */
        private String admit(ControlChannel c, int world, ControlChannel[] byRank) {
            JsonNode hello;
            try {
                c.readTimeout(HELLO_MILLIS);
                hello = c.receive(HELLO_MAX_CHARS);
                c.readTimeout(0);
            } catch (IOException e) {
                return "no hello (" + e.getMessage() + ")";
            }
            if (hello == null || !"hello".equals(hello.path("type").asText()) || !hello.path("rank").isInt()) {
                return "not a worker's hello";
            }
            int rank = hello.get("rank").asInt();
            if (rank < 0 || rank >= world || byRank[rank] != null) {
                return "it claims rank " + rank + ", which is not expected";
            }
            byte[] proof;
            try {
                proof = java.util.Base64.getUrlDecoder().decode(hello.path("proof").asText(""));
            } catch (IllegalArgumentException e) {
                proof = null;
            }
            if (!secret.verifies(WorkerProcess.helloLabel(rank), proof)) {
                return "it claims rank " + rank + " without this launch's secret";
            }
            hellos.put(c, hello);
            return null;
        }

        private JsonNode helloOf(ControlChannel c) {
            return hellos.remove(c);
        }

        private void readLoop(int rank, ControlChannel c) {
            try {
                while (true) {
                    JsonNode m = c.receive();
                    if (m == null) {
                        inbox.add(new Message(rank, null, "closed its connection"));
                        return;
                    }
                    RankReport report;
                    try {
                        report = JSON.treeToValue(m, RankReport.class);
                    } catch (JsonProcessingException e) {
                        inbox.add(new Message(rank, null, "sent a message that is not a report (" + e.getOriginalMessage() + ")"));
                        return;
                    }
                    inbox.add(new Message(rank, report, null));
                    if (report instanceof RankReport.Done) {
                        return;
                    }
                }
            } catch (IOException e) {
                inbox.add(new Message(rank, null, "connection failed: " + e.getMessage()));
            }
        }

        /** The next message from any worker; a lost worker or an error report ends the run. */
        private RankReport next() throws InterruptedException {
            while (true) {
                Message m = inbox.poll(1, TimeUnit.SECONDS);
                if (m == null) {
                    for (int r = 0; r < processes.size(); r++) {
                        if (!processes.get(r).isAlive() && processes.get(r).exitValue() != 0) {
                            throw failure(r, "exited with code " + processes.get(r).exitValue());
                        }
                    }
                    continue;
                }
                if (m.report() == null) {
                    Process p = processes.get(m.rank());
                    p.waitFor(2, TimeUnit.SECONDS);
                    String how = p.isAlive() ? m.lostReason() : "exited with code " + p.exitValue();
                    throw failure(m.rank(), "lost: " + how);
                }
                if (m.report() instanceof RankReport.Failed f) {
                    // a rank that lost a peer reports first; name the rank that actually died if there is one
                    Integer dead = deadRank(Duration.ofSeconds(2));
                    if (dead != null) {
                        throw failure(dead, "lost: exited with code " + processes.get(dead).exitValue()
                                + " (reported by " + spec.topology().describe(m.rank()) + ": " + f.message() + ")");
                    }
                    throw failure(m.rank(), "failed: " + f.message());
                }
                return m.report();
            }
        }

        private Integer deadRank(Duration wait) throws InterruptedException {
            long deadline = System.nanoTime() + wait.toNanos();
            do {
                for (int r = 0; r < processes.size(); r++) {
                    if (!processes.get(r).isAlive() && processes.get(r).exitValue() != 0) {
                        return r;
                    }
                }
                Thread.sleep(50);
            } while (System.nanoTime() < deadline);
            return null;
        }

        private IllegalStateException failure(int rank, String what) {
            killAll();
            return new IllegalStateException(spec.topology().describe(rank) + " " + what + " (worker logs in " + logDir + ")");
        }

        private void killAll() {
            for (Process p : processes) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }
}
