package io.pipefill.model.agent;

import java.util.List;
import java.util.Map;

/**
 * What a worker tells the control plane when it joins: the node it runs on (name, host, CPU, memory,
 * GPUs, labels), the backend it computes with and the URL of its agent API.
 *
 * @param podName the Kubernetes pod name when the worker runs in a pod, else null
 */
public record WorkerRegistration(String nodeName, String host, int cpuCores, long memoryBytes,
                                 List<GpuInventory> gpus, Map<String, String> labels, String backend,
                                 String agentUrl, String podName) {
}
