package io.pipefill.controlplane.db;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Keeps the {@link ControlPlaneLock} held across database restarts, every 5 s. Should another control plane have
 * taken the database while it was away, this one stops (exit status 75) rather than fail that one's runs.
 */
@Component
class ControlPlaneLockKeeper {
    private static final Logger log = LoggerFactory.getLogger(ControlPlaneLockKeeper.class);
    static final int EXIT_LOCK_TAKEN = 75;

    private final ControlPlaneLock lock;
    private final ConfigurableApplicationContext context;

    ControlPlaneLockKeeper(ControlPlaneLock lock, ConfigurableApplicationContext context) {
        this.lock = lock;
        this.context = context;
    }

    @Scheduled(fixedDelay = 5_000, initialDelay = 5_000)
    void keep() {
        if (lock.keep() == ControlPlaneLock.Held.TAKEN_BY_ANOTHER) {
            log.error("stopping: another control plane runs on this database now (one control plane per database)");
            Thread stopper = new Thread(() -> System.exit(SpringApplication.exit(context, () -> EXIT_LOCK_TAKEN)),
                    "control-plane-lock-lost");
            stopper.start();
        }
    }
}
