package io.pipefill.controlplane.db;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One control plane per database. A run lives in the memory of the control plane that started it (its
 * workers report there), and a starting control plane fails every unfinished run it finds; so a second
 * control plane on the same database would fail the first one's runs and refuse the reports sent to it. Each
 * control plane therefore holds a PostgreSQL advisory lock on its database for as long as it runs, on a
 * connection of its own (outside the pool, which recycles connections); PostgreSQL drops it when that
 * session ends, however the process ends. A starting control plane waits up to {@code wait} for the lock (a
 * replaced pod may still be stopping) and then refuses to start, saying why.
 *
 * <p>A database restart ends that session and with it the lock: {@link #keep} (called every few seconds) notices
 * and takes the lock again once the database is back. If another control plane took it meanwhile, this one must
 * not go on beside it, and {@link #keep} says so.
 */
public final class ControlPlaneLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlPlaneLock.class);
    /** The lock's key, the same in every version: "pipefill" in ASCII. */
    static final long KEY = 0x7069706566696c6cL;

    private final String jdbcUrl;
    private final Properties properties;
    private Connection session;

    private ControlPlaneLock(String jdbcUrl, Properties properties, Connection session) {
        this.jdbcUrl = jdbcUrl;
        this.properties = properties;
        this.session = session;
    }

    /** What {@link #keep} found. */
    public enum Held {
        /** The lock is held (still, or again after the database came back). */
        HELD,
        /** The database is out of reach: the lock is not held now; the next call tries again. */
        DATABASE_AWAY,
        /** Another control plane holds the lock now: this one must stop. */
        TAKEN_BY_ANOTHER
    }

    /** Checks the lock's session and, if the database dropped it, takes the lock again. */
    public synchronized Held keep() {
        try {
            if (session != null && session.isValid(2)) {
                return Held.HELD;
            }
        } catch (SQLException e) {
            // treated as a lost session below
        }
        closeQuietly(session);
        session = null;
        Connection c;
        try {
            c = DriverManager.getConnection(jdbcUrl, properties);
        } catch (SQLException e) {
            return Held.DATABASE_AWAY;
        }
        try {
            if (tryLock(c)) {
                session = c;
                log.info("took the control plane's database lock again after the database came back");
                return Held.HELD;
            }
            log.error("another control plane took this database's lock ({}) while the database was away", holder(c));
            closeQuietly(c);
            return Held.TAKEN_BY_ANOTHER;
        } catch (SQLException e) {
            closeQuietly(c);
            return Held.DATABASE_AWAY;
        }
    }

    static ControlPlaneLock acquire(String jdbcUrl, String user, String password, Duration wait) {
        Properties p = new Properties();
        if (user != null) {
            p.setProperty("user", user);
        }
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("ApplicationName", "pipefill control plane (lock)");
        p.setProperty("tcpKeepAlive", "true"); // a vanished peer's session (and lock) ends when keepalives fail
        Connection c;
        try {
            c = DriverManager.getConnection(jdbcUrl, p);
        } catch (SQLException e) {
            throw new IllegalStateException("could not connect to the database to take the control plane's lock: "
                    + e.getMessage(), e);
        }
        try {
            long deadline = System.nanoTime() + wait.toNanos();
            boolean warned = false;
            while (!tryLock(c)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("another control plane is running on this database (it holds the "
                            + "advisory lock " + KEY + ", session " + holder(c) + "), and it did not stop within "
                            + wait.toSeconds() + " s. pipefill runs one control plane per database: a run lives in the "
                            + "control plane that started it, and a starting one fails the unfinished runs it finds. "
                            + "Stop the other one (in Kubernetes: controlPlane.replicas=1), or give this one its own database");
                }
                if (!warned) {
                    log.warn("another control plane holds this database; waiting up to {} s for it to stop", wait.toSeconds());
                    warned = true;
                }
                Thread.sleep(500);
            }
            return new ControlPlaneLock(jdbcUrl, p, c);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            throw e instanceof RuntimeException r ? r
                    : new IllegalStateException("could not take the control plane's database lock: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(c);
            throw new IllegalStateException("interrupted while waiting for the control plane's database lock", e);
        }
    }

    private static boolean tryLock(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("select pg_try_advisory_lock(?)")) {
            s.setLong(1, KEY);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getBoolean(1);
            }
        }
    }

    /** Who holds the lock, for the error: the holder's address and application name as PostgreSQL knows them. */
    private static String holder(Connection c) {
        try (PreparedStatement s = c.prepareStatement("""
                select a.pid, coalesce(host(a.client_addr), 'local'), a.backend_start from pg_locks l
                join pg_stat_activity a on a.pid = l.pid
                where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
                  and ((l.classid::bigint << 32) | l.objid::bigint) = ?""")) {
            s.setLong(1, KEY);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? "pid " + r.getInt(1) + " from " + r.getString(2) + " since " + r.getTimestamp(3).toInstant()
                        : "unknown";
            }
        } catch (SQLException e) {
            return "unknown";
        }
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing anyway
        }
    }

    /** Releases the lock: closing the session ends it. */
    @Override
    public synchronized void close() {
        closeQuietly(session);
        session = null;
    }
}
