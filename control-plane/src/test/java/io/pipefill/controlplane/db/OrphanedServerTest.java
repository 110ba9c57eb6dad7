package io.pipefill.controlplane.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data directory whose embedded server still has its owner is never taken over: the start fails naming it,
 * and the running server keeps answering. (Reclaiming an orphan, left by a control plane killed with
 * SIGKILL, was checked by hand: `pipefill up`, kill -9, `pipefill up` on the same --data-dir.)
 */
class OrphanedServerTest {
    @TempDir
    Path dir;

    @Test
    void aServerWhoseOwnerRunsIsLeftAloneAndNamed() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(dir).setCleanDataDirectory(false).start()) {
            assertThat(Files.isRegularFile(dir.resolve("postmaster.pid"))).isTrue();
            assertThat(OrphanedServer.ownerAlive(dir)).isTrue();
            assertThatThrownBy(() -> OrphanedServer.reclaim(dir, Duration.ofSeconds(1)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("in use by another running control plane")
                    .hasMessageContaining("--data-dir");
            try (Connection c = pg.getPostgresDatabase().getConnection()) {
                assertThat(c.isValid(2)).as("the owner's server still answers").isTrue();
            }
        }
        assertThat(OrphanedServer.ownerAlive(dir)).isFalse();
        OrphanedServer.reclaim(dir, Duration.ofSeconds(1)); // stopped cleanly: nothing to do
    }
}
