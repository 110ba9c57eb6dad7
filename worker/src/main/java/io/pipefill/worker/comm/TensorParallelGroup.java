package io.pipefill.worker.comm;

import io.pipefill.worker.model.TensorParallel;

/**
 * A loaded stage's tensor-parallel all-reduce over the host: the stage is loaded once and serves many runs,
 * each with its own transport, so the group {@link #attach attaches} the run's transport while the run lasts
 * and sums over it. A stage outside any run (warming up alone while it loads) {@link #computeAlone computes
 * alone}: its sums are skipped and its numbers are thrown away. GPU ranks joined by NCCL sum on the device
 * instead (the CUDA backend's device all-reduce) and never reach this class.
 */
public final class TensorParallelGroup implements TensorParallel.AllReduce {
    private final Groups groups;
    private final int[] members;
    private volatile Transport transport;
    private volatile boolean alone;

    public TensorParallelGroup(Groups groups) {
        this.groups = groups;
        this.members = groups.tensorParallel();
    }

    /** Makes {@code t} (a transport of this group's rank) carry the sums until {@link #detach}. */
    public void attach(Transport t) {
        if (t.rank() != groups.rank()) {
            throw new IllegalArgumentException("a transport of rank " + t.rank() + " cannot serve the tensor-parallel group of "
                    + groups.describe());
        }
        transport = t;
    }

    public void detach() {
        transport = null;
    }

    /** Runs {@code work} with the sums skipped: partial sums only, for a warm-up whose numbers are discarded. */
    public void computeAlone(Runnable work) {
        alone = true;
        try {
            work.run();
        } finally {
            alone = false;
        }
    }

    @Override
    public void sum(float[] data, int length) {
        if (members.length == 1 || alone) {
            return;
        }
        Transport t = transport;
        if (t == null) {
            throw new IllegalStateException(groups.describe()
                    + ": a tensor-parallel all-reduce needs the run's transport, and none is attached");
        }
        t.allReduceSum(members, data, length);
    }
}
