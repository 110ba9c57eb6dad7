package io.pipefill.worker.cuda;

import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;

import io.pipefill.model.Topology;
import io.pipefill.worker.comm.DeviceRank;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.Transport;
import io.pipefill.worker.comm.TransportException;
import java.time.Duration;
import java.util.Arrays;

/**
 * One rank of a multi-process CUDA pipeline, joined: it takes GPU {@link DeviceAssignment#deviceFor rank}, gets
 * rank 0's NCCL unique id over the run's float transport ({@link NcclIds}), joins the world communicator (hidden
 * states between stages, {@link NcclLink}) and, with tensor parallelism, splits it by stage into its TP group's
 * communicator, whose all-reduce the {@link CudaStage} runs on the device. Every rank must construct one at the
 * same point of its start-up (the init and the split are collective). Created by name from
 * {@code backends.Backends}. Not yet run on a GPU: needs a host with one GPU per rank.
 */
public final class NcclRank implements DeviceRank {
    private final int device;
    private final NcclCommunicator world;
    private final NcclCommunicator tensorParallel;
    private final NcclLink link;
    private final String groupName;

    /** The GPUs CUDA sees in this process (after CUDA_VISIBLE_DEVICES). */
    public static int deviceCount() {
        int[] n = {0};
        CudaDevice.check(cudaGetDeviceCount(n), "cudaGetDeviceCount");
        return n[0];
    }

    /** The coordinator's check before it launches anything: one GPU per rank. */
    public static void requireDevices(int worldSize) {
        DeviceAssignment.requireDevices(worldSize, deviceCount());
    }

    public NcclRank(Transport transport, Topology topology, Duration timeout) {
        int rank = transport.rank();
        if (transport.worldSize() != topology.worldSize()) {
            throw new IllegalArgumentException("the transport has " + transport.worldSize() + " ranks, the topology "
                    + topology.worldSize());
        }
        this.device = DeviceAssignment.deviceFor(rank, topology.worldSize(), deviceCount());
        // the current device is per thread: this thread (the rank's loop) makes every later CUDA call
        CudaDevice.check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        byte[] id = NcclIds.broadcast(transport, 0, transport.allRanks(), rank == 0 ? NcclCommunicator.newUniqueId() : null);
        // no default stream: every operation names the compute stream of the rows it moves
        NcclCommunicator w = new NcclCommunicator(id, topology.worldSize(), rank, null, timeout);
        NcclCommunicator tp = null;
        int stage = topology.stageOf(rank);
        this.groupName = "the tensor-parallel group of stage " + stage + " (ranks " + Arrays.toString(topology.group(stage)) + ")";
        try {
            if (topology.tp() > 1) {
                tp = w.split(stage, topology.tpRankOf(rank), topology.tp(), topology.tpRankOf(rank), groupName);
            }
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        this.world = w;
        this.tensorParallel = tp;
        this.link = new NcclLink(w, stage < topology.pp() - 1, topology::describe);
    }

    @Override
    public int device() {
        return device;
    }

    @Override
    public ActivationLink activationLink() {
        return link;
    }

    /** The device all-reduce of this rank's TP group; null at tp 1. */
    CudaStage.DeviceAllReduce deviceAllReduce() {
        if (tensorParallel == null) {
            return null;
        }
        return (dev, offset, count) -> {
            long address = dev.arg(offset).value();
            try {
                // awaited here, on the host, so that a silent peer trips the watchdog instead of hanging the
                // compute stream's next synchronisation; the GEMM before and the add after stay on the device
                tensorParallel.allReduceSum(address, address, count, NcclCommunicator.DType.BF16, dev.stream()).await();
            } catch (TransportException e) {
                throw new TransportException(groupName + ": " + e.getMessage(), e);
            }
        };
    }

    @Override
    public void close() {
        link.close();
        try (NcclCommunicator w = world; NcclCommunicator t = tensorParallel) {
            // the TP communicator first, then the world it was split from
        }
    }
}
