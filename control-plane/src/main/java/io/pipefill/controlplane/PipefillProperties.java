package io.pipefill.controlplane;

import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The control plane's settings ({@code pipefill.*} in application.yml, or environment variables such as
 * {@code PIPEFILL_DB_URL}).
 *
 * @param dataDir            where the embedded database and generated tokens live (survives restarts)
 * @param db                 an external PostgreSQL; when its url is blank the embedded one starts
 * @param adminToken         bearer token for /api routes; generated into dataDir on first start when blank
 * @param joinToken          bearer token workers use; generated into dataDir on first start when blank
 * @param heartbeatInterval  how often workers send heartbeats
 * @param heartbeatTimeout   a worker silent this long is marked lost
 * @param maxRunsInFlight    queued plus running runs accepted before submissions get 429
 * @param peerTimeout        the longest a rank waits on a peer during a run
 * @param lostWorkerRetention how long a LOST worker that holds no live deployment's shard stays in the worker
 *                           lists and gauges (its record stays, and {@code ?state=LOST} lists it)
 */
@ConfigurationProperties("pipefill")
public record PipefillProperties(Path dataDir, Db db, String adminToken, String joinToken,
                                 Duration heartbeatInterval, Duration heartbeatTimeout, int maxRunsInFlight,
                                 Duration peerTimeout, Duration lostWorkerRetention) {

    /** An external database; {@code url} blank means "start the embedded one". */
    public record Db(String url, String username, String password, int embeddedPort) {
        public boolean external() {
            return url != null && !url.isBlank();
        }
    }

    public PipefillProperties {
        if (dataDir == null) {
            dataDir = Path.of(System.getProperty("user.home"), ".local", "share", "pipefill");
        }
        if (db == null) {
            db = new Db(null, null, null, 0);
        }
        if (heartbeatInterval == null) {
            heartbeatInterval = Duration.ofSeconds(2);
        }
        if (heartbeatTimeout == null) {
            heartbeatTimeout = Duration.ofSeconds(10);
        }
        if (maxRunsInFlight <= 0) {
            maxRunsInFlight = 16;
        }
        if (peerTimeout == null) {
            peerTimeout = Duration.ofSeconds(30);
        }
        if (lostWorkerRetention == null) {
            lostWorkerRetention = Duration.ofHours(1);
        }
    }
}
