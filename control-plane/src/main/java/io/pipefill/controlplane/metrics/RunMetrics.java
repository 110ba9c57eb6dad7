package io.pipefill.controlplane.metrics;

import org.springframework.stereotype.Component;

/** TEMPORARY stand-in until the metrics package lands. */
@Component
public class RunMetrics {
    public void recordRun(String deploymentName, double ttftMs, double tokensPerSecond, boolean succeeded) {
    }
}
