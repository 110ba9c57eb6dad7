package io.pipefill.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.pipefill.controlplane.ControlPlaneApplication;
import io.pipefill.controlplane.PipefillProperties;
import io.pipefill.controlplane.security.Tokens;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.ActiveProfiles;

/**
 * The web UI in a real browser (Debian's Chromium, driven by ui/browser-test/admin-ui.mjs through playwright-core)
 * against the whole system on one machine: this control plane with its embedded PostgreSQL and two local worker
 * processes, as under `pipefill up`. The script signs in (a wrong token first), registers a generated model,
 * plans, deploys the PP 2 plan, submits a run and checks its measured Gantt's bars against the run's timeline,
 * cancels a long run while watching its progress, and signs out; it saves a screenshot of every page under
 * target/ui-screenshots. Skipped, saying why, where Node, the UI's node_modules or Chromium are missing
 * (.ci/run installs Chromium).
 */
@SpringBootTest(classes = ControlPlaneApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        // a browser beside two workers on a loaded machine: heartbeats get more slack than the test profile's 2 s
        properties = {"pipefill.peer-timeout=10s", "pipefill.agents.allow-loopback=true", "pipefill.heartbeat-timeout=10s"})
@ActiveProfiles("test")
// a context (and database) of its own, closed afterwards: the workers this test stops must not show up as LOST
// in the whole-system test's context
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class AdminUiBrowserTest {
    static final String ADMIN = "test-admin-token";
    static final Path UI = Path.of("..", "ui").toAbsolutePath().normalize();
    static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));

    @TempDir
    static Path tmp;
    @LocalServerPort
    int port;
    @Autowired
    Tokens tokens;
    @Autowired
    PipefillProperties props;
    static LocalWorkers localWorkers;

    @AfterAll
    static void stopWorkers() {
        if (localWorkers != null) {
            localWorkers.close();
        }
    }

    @Test
    void theUiDrivesTheWholeSystemInChromium() throws Exception {
        Assumptions.assumeTrue(getClass().getResource("/static/index.html") != null,
                "the web UI was not built (no Node.js/npm at build time)");
        Assumptions.assumeTrue(Files.isDirectory(UI.resolve("node_modules/playwright-core")),
                "ui/node_modules/playwright-core is missing (the UI build's npm ci installs it)");
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM), CHROMIUM + " is missing: apt-get install chromium (.ci/run does)");

        Path model = tmp.resolve("ui-tiny");
        new ModelGenerator(ModelPreset.fromCliName("tiny").config(Architecture.LLAMA), 3).write(model);
        localWorkers = LocalWorkers.launch(2, 1, port, tokens.join(), props.dataDir().resolve("logs"));

        Path shots = Path.of("target", "ui-screenshots").toAbsolutePath();
        Path log = Path.of("target", "ui-browser-test.log").toAbsolutePath();
        ProcessBuilder pb = new ProcessBuilder("node", "browser-test/admin-ui.mjs")
                .directory(UI.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        // in the environment, not on the command line: the token must not show in a process list
        pb.environment().put("PIPEFILL_URL", "http://127.0.0.1:" + port);
        pb.environment().put("PIPEFILL_ADMIN_TOKEN", ADMIN);
        pb.environment().put("PIPEFILL_MODEL_DIR", model.toString());
        pb.environment().put("SCREENSHOT_DIR", shots.toString());
        pb.environment().put("CHROMIUM", CHROMIUM.toString());
        Process node = pb.start();
        node.getOutputStream().close();
        boolean done = false;
        try {
            done = node.waitFor(5, TimeUnit.MINUTES);
        } finally {
            if (!done) {
                node.destroyForcibly();
            }
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(done).as("the browser test ended within 5 minutes; output:%n%s", output).isTrue();
        assertThat(node.exitValue()).as("the browser test's exit status; output:%n%s", output).isZero();
        assertThat(output).contains("ok - the measured Gantt has one bar per timeline event").contains("ok - no console errors");
        try (var files = Files.list(shots)) {
            assertThat(files.filter(p -> p.toString().endsWith(".png")).count()).as("screenshots in %s", shots)
                    .isGreaterThanOrEqualTo(9);
        }
    }
}
