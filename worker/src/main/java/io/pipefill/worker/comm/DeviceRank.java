package io.pipefill.worker.comm;

import io.pipefill.worker.comm.ActivationLink;

/**
 * A rank of a multi-process GPU pipeline joined to its peers: the GPU it computes on, the link its hidden
 * states take, and (kept inside the backend, which gets this object) its tensor-parallel group's device
 * all-reduce. Made by {@link Backends#joinDeviceRank}; the cuda package implements it, so that nothing here
 * refers to a CUDA class. Closed after the stage that used it.
 */
public interface DeviceRank extends AutoCloseable {
    /** The CUDA device index this rank's backend must use. */
    int device();

    /** Hidden states to and from the neighbouring stages. */
    ActivationLink activationLink();

    @Override
    void close();
}
