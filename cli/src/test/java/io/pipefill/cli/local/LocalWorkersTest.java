package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local workers under `pipefill up` are supervised (finding 12 of issue 23): a worker process that dies is
 * started again, a bounded number of times. Real worker processes; their control plane is a closed port, so
 * they keep trying to register and never exit by themselves.
 */
class LocalWorkersTest {
    @TempDir
    Path logs;

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static Process awaitNewProcess(LocalWorkers w, Process old, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            Process p = w.processes().get(0);
            if (p != old && p.isAlive()) {
                return p;
            }
            Thread.sleep(50);
        }
        return null;
    }

    @Test
    void aWorkerThatDiesIsRestartedABoundedNumberOfTimes() throws Exception {
        LocalWorkers.RestartPolicy policy = new LocalWorkers.RestartPolicy(2, Duration.ofMinutes(1), Duration.ofMillis(100));
        try (LocalWorkers w = LocalWorkers.launch(1, 1, closedPort(), "join-token-of-the-test", logs, policy)) {
            Process first = w.processes().get(0);
            assertThat(first.isAlive()).isTrue();

            first.destroyForcibly();
            Process second = awaitNewProcess(w, first, Duration.ofSeconds(10));
            assertThat(second).as("restarted after it was killed").isNotNull();
            assertThat(w.restarts(0)).isEqualTo(1);

            second.destroyForcibly();
            Process third = awaitNewProcess(w, second, Duration.ofSeconds(10));
            assertThat(third).as("restarted a second time").isNotNull();
            assertThat(w.restarts(0)).isEqualTo(2);

            // the policy allows two restarts a minute: the third death is final
            third.destroyForcibly();
            assertThat(awaitNewProcess(w, third, Duration.ofSeconds(2))).as("not restarted past the policy").isNull();
            assertThat(w.restarts(0)).isEqualTo(2);
            // one log file per worker, which the restarts appended to
            assertThat(Files.exists(logs.resolve("worker-0.log"))).isTrue();
        }
    }

    @Test
    void closingStopsTheWorkersForGoodWithoutRestarts() throws Exception {
        LocalWorkers.RestartPolicy policy = new LocalWorkers.RestartPolicy(5, Duration.ofMinutes(1), Duration.ofMillis(50));
        LocalWorkers w = LocalWorkers.launch(1, 1, closedPort(), "join-token-of-the-test", logs, policy);
        Process p = w.processes().get(0);
        w.close();
        p.onExit().get();
        Thread.sleep(500);
        assertThat(w.processes().get(0)).isSameAs(p);
        assertThat(w.restarts(0)).isZero();
    }
}
