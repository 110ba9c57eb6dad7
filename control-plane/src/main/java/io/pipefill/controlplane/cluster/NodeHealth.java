package io.pipefill.controlplane.cluster;

/** A node's health: HEALTHY while any worker on it beats, LOST when none does, DRAINING once drained. */
public enum NodeHealth { HEALTHY, LOST, DRAINING }
