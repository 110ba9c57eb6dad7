package io.pipefill.worker.cuda;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.comm.DeviceRank;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.WeightLayout;

/**
 * BF16 compute on one NVIDIA GPU (sm_80 or newer) through the JavaCPP CUDA presets. The constructor probes for
 * the host's CUDA libraries before any JavaCPP CUDA class is touched, so a machine without them gets
 * {@link CudaLibraries}' message (every missing soname, every directory searched) and not an
 * UnsatisfiedLinkError. Created reflectively by {@code io.pipefill.worker.backends.Backends}, so the CPU path
 * never loads this class.
 */
public final class CudaBackend implements Backend {
    private final CudaDevice device;
    /** The TP group's NCCL all-reduce of a multi-process rank; null: through the host. */
    private final CudaStage.DeviceAllReduce deviceAllReduce;

    public CudaBackend() {
        this(1);
    }

    /** One of {@code stagesOnDevice} stages of this process on GPU 0, each with its share of the memory. */
    public CudaBackend(int stagesOnDevice) {
        this(0, CubinCache.defaultCache(), stagesOnDevice, null);
    }

    public CudaBackend(int deviceIndex, CubinCache cache) {
        this(deviceIndex, cache, 1, null);
    }

    /**
     * A rank of a multi-process pipeline, alone on the GPU its {@link NcclRank} took, with its TP group's
     * all-reduce on the device. {@code rank} must be an NcclRank (backends.Backends passes the one it joined).
     */
    public CudaBackend(DeviceRank rank) {
        this(rank.device(), CubinCache.defaultCache(), 1, deviceAllReduceOf(rank));
    }

    private CudaBackend(int deviceIndex, CubinCache cache, int stagesOnDevice, CudaStage.DeviceAllReduce allReduce) {
        CudaLibraries.probe().requireAll();
        this.device = new CudaDevice(deviceIndex, cache, PoolShare.fraction(stagesOnDevice));
        this.deviceAllReduce = allReduce;
    }

    private static CudaStage.DeviceAllReduce deviceAllReduceOf(DeviceRank rank) {
        if (rank instanceof NcclRank n) {
            return n.deviceAllReduce();
        }
        throw new IllegalArgumentException("the CUDA backend joins peers through an NcclRank, got "
                + rank.getClass().getSimpleName());
    }

    /** For the device-local link, which copies between the pools of stages in this process. */
    CudaDevice device() {
        return device;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Stage loadStage(ModelConfig config, StageShard shard, TensorParallel tp, Checkpoint checkpoint, int kvCapacity) {
        checkSupported(config);
        Backend.checkLoadable(config, shard, tp, kvCapacity);
        LaunchGeometry.checkAttention(tp.count(config.numHeads()), tp.count(config.numKvHeads()), config.headDim());
        WeightLayout.Stage layout = WeightLayout.plan(config, shard, tp, checkpoint);
        return new CudaStage(device, deviceAllReduce, config, shard, tp, layout, checkpoint, kvCapacity);
    }

    /**
     * Refuses the families this backend has no kernels for, before any weight is read: its layer steps are the
     * dense decoder's (fused q/k/v, dense SwiGLU MLP); latent attention and a mixture-of-experts MLP run on the
     * CPU backend only.
     */
    public static void checkSupported(ModelConfig config) {
        if (config.mla() != null) {
            throw new UnsupportedOperationException("the cuda backend runs dense decoders only (Llama, Mistral, Qwen2, "
                    + "Qwen3); " + config.architecture().hfName() + " needs multi-head latent attention (a latent KV cache "
                    + "of kv_lora_rank " + config.mla().kvLoraRank() + " expanded through kv_b_proj) and a mixture-of-"
                    + "experts MLP, which only the cpu backend has: use --backend cpu");
        }
        if (config.moe() != null) {
            throw new UnsupportedOperationException("the cuda backend runs dense decoders only (Llama, Mistral, Qwen2, "
                    + "Qwen3); " + config.architecture().hfName() + " needs a mixture-of-experts MLP (router and "
                    + config.moe().numExperts() + " experts), which only the cpu backend has: use --backend cpu");
        }
    }

    @Override
    public void close() {
        device.close();
    }
}
