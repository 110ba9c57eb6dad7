package io.pipefill.controlplane.deployment;

/**
 * LOADING while workers load their shards, READY to take runs, DEGRADED when a placed worker was lost,
 * FAILED when a shard could not be loaded, DELETED once deleted (the record is kept for its runs).
 */
public enum DeploymentState { LOADING, READY, DEGRADED, FAILED, DELETED }
